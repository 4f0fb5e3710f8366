"""The core commands through the CLI: init, new, status, events, config."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git


def test_init_new_status_events_walkthrough(repo: Path, cli, scrubber, snapshot) -> None:
    outputs = []
    for args in (
        ("init", "--engine", "demo"),
        ("init",),
        ("new", "add-login", "--task", "Add a login page", "--no-plan"),
        ("status",),
        ("events",),
    ):
        result = cli(*args, cwd=repo)
        outputs.append((args, result.exit_code, scrubber(result.output, repo)))
    assert outputs == snapshot
    log = git("log", "--format=%s", "refs/deksdenflow/state", cwd=repo).splitlines()
    assert log == ["dflow: run.created 0001-add-login (+1 more)", "dflow: init"]


def test_status_json_is_the_documented_contract(repo: Path, cli) -> None:
    cli("init", cwd=repo)
    cli("new", "Fix Bug #2", "--task", "fix it", "--no-plan", cwd=repo)
    data = json.loads(cli("status", "--json", cwd=repo).output)
    run = data["runs"][0]
    assert {"id", "number", "name", "status", "steps"} <= run.keys()
    assert (run["id"], run["number"], run["name"], run["status"]) == (
        "0001-fix-bug-2", 1, "fix-bug-2", "pending")


def test_clashing_and_empty_names_fail_cleanly_and_change_nothing(repo: Path, cli) -> None:
    cli("init", cwd=repo)
    cli("new", "a", "--task", "t", "--no-plan", cwd=repo)
    before = git("rev-parse", "refs/deksdenflow/state", cwd=repo)
    clash = cli("new", "a", "--task", "t", "--no-plan", cwd=repo)
    empty = cli("new", "!!!", "--task", "t", "--no-plan", cwd=repo)
    assert (clash.exit_code, empty.exit_code) == (1, 2)
    assert clash.output.startswith("error: protocol run 0001-a already uses the name 'a'")
    assert "Traceback" not in clash.output + empty.output
    assert git("rev-parse", "refs/deksdenflow/state", cwd=repo) == before


def test_outside_a_repository_is_one_clear_sentence(tmp_path: Path, cli) -> None:
    result = cli("init", cwd=tmp_path)
    assert result.exit_code == 1
    assert "is not inside a git repository" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_config_set_keeps_comments_and_validates(repo: Path, cli) -> None:
    cli("init", cwd=repo)
    assert cli("config", "set", "qa.policy", "end", cwd=repo).exit_code == 0
    text = git("show", "refs/deksdenflow/state:project.toml", cwd=repo)
    assert 'policy = "end" # each_step | end | never' in text
    bad = cli("config", "set", "qa.policy", "sometimes", cwd=repo)
    unknown = cli("config", "set", "qa.polcy", "end", cwd=repo)
    assert bad.exit_code == 1 and "'qa.policy'" in bad.output and "project.toml" in bad.output
    assert unknown.exit_code == 1 and "unknown key 'qa.polcy'" in unknown.output


def test_config_precedence_flag_env_project_user(repo: Path, cli, monkeypatch,
                                                isolated_env) -> None:
    cli("init", cwd=repo)
    user = isolated_env / "dflow-config.toml"
    user.write_text('[retry]\nmax_attempts = 5\n[qa]\npolicy = "never"\n')
    cli("config", "set", "qa.policy", "end", cwd=repo)
    got = json.loads(cli("config", "get", "retry.max_attempts", "--json", cwd=repo).output)
    assert (got["value"], got["source"].startswith("user config")) == (5, True)
    assert cli("config", "get", "qa.policy", cwd=repo).output.strip() == "end"
    monkeypatch.setenv("DFLOW_QA_POLICY", "each_step")
    got = json.loads(cli("config", "get", "qa.policy", "--json", cwd=repo).output)
    assert got == {"key": "qa.policy", "value": "each_step",
                   "source": "environment DFLOW_QA_POLICY"}
    monkeypatch.setenv("DFLOW_BUDGET_TOKENS", "lots")
    bad = cli("config", "get", "qa.policy", cwd=repo)
    assert bad.exit_code == 1 and "DFLOW_BUDGET_TOKENS" in bad.output


def test_every_command_has_help_with_an_example(cli) -> None:
    import typer.main

    from deksdenflow.cli.app import app

    group = typer.main.get_command(app)
    missing = []

    def walk(cmd, path):  # type: ignore[no-untyped-def]
        sub = getattr(cmd, "commands", None)
        if sub:
            for name, child in sub.items():
                walk(child, [*path, name])
        elif "Example:" not in (cmd.help or ""):
            missing.append(" ".join(path))

    walk(group, [])
    assert missing == []
