"""Small frictions a new user meets: near misses, `dflow pr` without gh, piped TOML, `init --ci`,
whole command summaries in --help."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from deksdenflow.ci import install, templates
from tests.conftest import git
from tests.sync.conftest import make_remote


def test_a_mistyped_run_name_or_command_gets_a_suggestion(repo: Path, cli) -> None:
    cli("init", "--engine", "demo", cwd=repo)
    cli("new", "add-login", "--task", "t", "--no-plan", cwd=repo)
    result = cli("show", "add-logn", cwd=repo)
    assert result.exit_code == 1
    assert "no protocol run 'add-logn' (did you mean '0001-add-login'?)" in result.output
    assert "Did you mean 'status'?" in cli("stauts", cwd=repo).output


def test_typos_in_engines_config_keys_and_projects_get_a_suggestion(repo: Path, cli) -> None:
    """Before: `--engine comand` said "configure it first (`dflow config set
    engines.comand.kind KIND`…)" with no suggestion, nor had a mistyped key or project."""
    cli("init", "--engine", "demo", cwd=repo)
    cli("new", "x", "--task", "t", "--no-plan", cwd=repo)
    state = git("rev-parse", "refs/deksdenflow/state", cwd=repo)
    for args, expected in (
            (("new", "y", "--task", "t", "--engine", "comand"),
             "unknown engine 'comand' (did you mean 'command'?)"),
            (("run", "x", "--engine", "cluade"), "no engine 'cluade' (did you mean 'claude'?)"),
            (("config", "set", "phases.default", "dmeo"), "no engine 'dmeo' (did you mean "
             "'demo'?)"),
            (("config", "set", "qa.polcy", "end"), "unknown key 'qa.polcy' (did you mean "
             "'qa.policy'?)"),
            (("config", "set", "engines.demo.modle", "m"), "unknown key 'engines.demo.modle' "
             "(did you mean 'engines.demo.model'?)"),
            (("config", "get", "budget.tokns"), "unknown key 'budget.tokns' (did you mean "
             "'budget.tokens'?)"),
            (("projects", "remove", repo.name + "x"), f"no project named '{repo.name}x' (did "
             f"you mean '{repo.name}'?)"),
            (("-C", repo.name[:-1] + "0", "status"), f"(did you mean '{repo.name}'?)")):
        result = cli(*args, cwd=repo)
        assert result.exit_code in (1, 2), (args, result.output)
        assert expected in " ".join(result.output.split()), (args, result.output)
    assert git("rev-parse", "refs/deksdenflow/state", cwd=repo) == state


def test_pr_without_gh_says_it_pushed_and_what_to_do_on_a_remote_that_is_not_github(
        tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: "already pushed" right after pushing it, and a `gh pr create` fallback although
    gh is missing and the remote (a bare repository) is not GitHub."""
    bare = make_remote(tmp_path)
    work = tmp_path / "work"
    git("clone", "-q", bare.as_uri(), str(work), cwd=tmp_path)
    cli("init", "--engine", "demo", cwd=work)
    cli("new", "x", "--task", "Add extra helpers\n\nwith tests", cwd=work)
    cli("run", "x", "--wait", cwd=work)
    (tmp_path / "empty").mkdir()
    git_dir = Path(os.popen("command -v git").read().strip()).parent
    monkeypatch.setenv("PATH", f"{tmp_path / 'empty'}{os.pathsep}{git_dir}")
    result = cli("pr", "x", cwd=work)
    assert result.exit_code == 1
    plan = work.parent / "work.worktrees" / "0001-x" / ".protocols" / "0001-x" / "plan.md"
    assert result.output.startswith(
        f"error: pushed branch 0001-x to origin; remote 'origin' ({bare.as_uri()}) is neither "
        f"GitHub nor GitLab: open a pull request from 0001-x into main on your forge with "
        f"{plan} as its description")
    assert "already" not in result.output and "gh pr create" not in result.output
    assert git("rev-parse", "0001-x", cwd=bare) == git("rev-parse", "0001-x", cwd=work)

    cli("config", "set", "ci.provider", "github", cwd=work)  # GitHub, but gh is missing
    again = cli("pr", "x", cwd=work)
    assert "pushed branch 0001-x to origin; `gh` is not installed" in again.output
    assert "--title '0001-x: Add extra helpers' --body-file" in again.output
    assert f"--body-file {plan} --head 0001-x --base main" in again.output


def test_project_show_is_toml_that_parses_even_on_a_narrow_terminal(
        repo: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    cli("init", "--engine", "demo", cwd=repo)
    long = "x" * 150
    assert cli("config", "set", "project.worktree_root", long, cwd=repo).exit_code == 0
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("DFLOW_QA_POLICY", "end")
    out = cli("project", "show", cwd=repo).output
    doc = tomllib.loads(out)
    assert doc["project"]["worktree_root"] == long
    assert '# qa.policy = "end"  (from environment DFLOW_QA_POLICY)' in out


def test_help_lists_whole_command_summaries(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out = cli("--help").output
    commands = out[out.index("Commands:"):]
    assert "..." not in commands and "…" not in commands
    assert "Set up dflow in this repository (creates the state ref; safe to run" in commands
    step = cli("step", "--help").output
    assert "..." not in step[step.index("Commands:"):]


def test_init_ci_sets_the_provider_and_says_what_to_commit_and_which_secret(repo: Path,
                                                                          cli) -> None:
    result = cli("init", "--engine", "demo", "--ci", "github", cwd=repo)
    assert result.exit_code == 0, result.output
    assert "git add .github/workflows/dflow.yml && git commit" in result.output
    assert "GITHUB_TOKEN" in result.output
    # This test's dflow is an editable install: CI cannot reach it, and init says so.
    assert "ci.install is not set: dflow was installed from" in result.output
    assert cli("config", "get", "ci.provider", cwd=repo).output.strip() == "github"
    text = (repo / ".github" / "workflows" / "dflow.yml").read_text()
    assert "set ci.install" in text and "pip install deksdenflow" not in text


@pytest.mark.parametrize(("direct_url", "expected"), [
    ({"url": "https://github.com/o/dflow.git",
      "vcs_info": {"vcs": "git", "commit_id": "abc123"}},
     "deksdenflow @ git+https://github.com/o/dflow.git@abc123"),
    (None, "deksdenflow==0.1.0"),
    ({"url": "https://example.com/deksdenflow-0.1.0.whl", "archive_info": {}},
     "deksdenflow @ https://example.com/deksdenflow-0.1.0.whl"),
    ({"url": "file:///home/me/dflow", "dir_info": {"editable": True}}, ""),
])
def test_ci_install_comes_from_how_dflow_was_installed(direct_url, expected: str) -> None:
    found = install.requirement_from(direct_url, "0.1.0")
    assert found.requirement == expected
    assert bool(found.why_not) == (not expected)


def test_the_workflow_installs_from_ci_install() -> None:
    text = templates.render("github", "make check", "main", "deksdenflow @ git+https://h/o/r@v1")
    assert 'run: pip install "${DFLOW_INSTALL:-deksdenflow @ git+https://h/o/r@v1}"' in text
    gitlab = templates.render("gitlab", "make check", "main", "deksdenflow==0.1.0")
    assert '- pip install "${DFLOW_INSTALL:-deksdenflow==0.1.0}"' in gitlab
