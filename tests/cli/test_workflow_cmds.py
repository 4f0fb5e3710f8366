"""The workflow commands through the CLI: new guards, run --wait, show, demo."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from deksdenflow.cli.runs import show_cmds, workflow_cmds
from deksdenflow.cli.setup import demo_cmds
from tests.conftest import git

STATE = "refs/deksdenflow/state"


def test_new_then_run_wait_completes_every_step(repo: Path, cli) -> None:
    assert cli("init", cwd=repo).exit_code == 0  # the project default stays codex
    new = cli("new", "x", "--task", "add a greeting", "--engine", "demo", cwd=repo)
    assert new.exit_code == 0, new.output
    assert "created 0001-x (planning) on branch 0001-x" in new.output
    result = cli("run", "0001-x", "--wait", cwd=repo)
    assert result.exit_code == 0, result.output
    assert "step 03 qa: PASS" in result.output
    assert result.output.strip().endswith("0001-x: ready to land, 3/3 steps done, 1.7k tokens") \
        or "0001-x: ready to land, 3/3 steps done" in result.output
    status = json.loads(cli("status", "--json", cwd=repo).output)
    line = status["runs"][0]
    assert (line["status"], line["stage"]) == ("completed", "ready to land")
    plan = git("show", "0001-x:.protocols/0001-x/plan.md", cwd=repo)
    assert plan.startswith("# Plan for 0001-x")


def test_show_json_has_plan_steps_and_events(repo: Path, cli) -> None:
    cli("init", "--engine", "demo", cwd=repo)
    cli("new", "x", "--task", "t", cwd=repo)
    cli("run", "x", "--wait", cwd=repo)
    data = json.loads(cli("show", "x", "--json", cwd=repo).output)
    assert data["plan"].startswith("# Plan for 0001-x")
    assert [s["status"] for s in data["steps"]] == ["completed"] * 3
    assert data["events"] and data["run"]["status"] == "completed"
    text = cli("show", "x", cwd=repo).output
    assert "--- .protocols/0001-x/plan.md ---" in text and "recent events:" in text


def _guard(repo: Path, cli, expected: str) -> None:
    before = git("rev-parse", STATE, cwd=repo)
    result = cli("new", "x", "--task", "t", cwd=repo)
    assert result.exit_code == 1 and expected in result.output, result.output
    assert "Traceback" not in result.output
    assert git("rev-parse", STATE, cwd=repo) == before
    assert git("branch", "--list", "0001-x", cwd=repo) == ""
    assert not (repo.parent / "repo.worktrees" / "0001-x").exists()


def test_new_refuses_a_dirty_base(repo: Path, cli) -> None:
    cli("init", "--engine", "demo", cwd=repo)
    (repo / "README.md").write_text("changed\n")
    _guard(repo, cli, "has uncommitted changes (first: README.md); commit or stash them first")


def test_new_refuses_an_existing_branch(repo: Path, cli) -> None:
    cli("init", "--engine", "demo", cwd=repo)
    git("branch", "0001-x", cwd=repo)
    before = git("rev-parse", STATE, cwd=repo)
    result = cli("new", "x", "--task", "t", cwd=repo)
    assert result.exit_code == 1 and "branch '0001-x' already exists" in result.output
    assert git("rev-parse", STATE, cwd=repo) == before
    assert not (repo.parent / "repo.worktrees" / "0001-x").exists()


def test_new_refuses_an_existing_worktree_directory(repo: Path, cli) -> None:
    cli("init", "--engine", "demo", cwd=repo)
    (repo.parent / "repo.worktrees" / "0001-x").mkdir(parents=True)
    before = git("rev-parse", STATE, cwd=repo)
    result = cli("new", "x", "--task", "t", cwd=repo)
    assert result.exit_code == 1 and "already exists" in result.output
    assert git("rev-parse", STATE, cwd=repo) == before
    assert git("branch", "--list", "0001-x", cwd=repo) == ""


def test_new_refuses_a_detached_head(repo: Path, cli) -> None:
    cli("init", "--engine", "demo", cwd=repo)
    git("checkout", "-q", "--detach", "HEAD", cwd=repo)
    _guard(repo, cli, "has a detached HEAD; check out a branch")


def test_new_uses_the_configured_worktree_root_and_remote_base(repo: Path, tmp_path: Path,
                                                               cli) -> None:
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    git("remote", "add", "origin", str(remote), cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo)
    (repo / "later.txt").write_text("local only\n")
    git("add", "later.txt", cwd=repo)
    git("commit", "-qm", "local commit", cwd=repo)
    git("fetch", "-q", "origin", cwd=repo)
    cli("init", "--engine", "demo", cwd=repo)
    cli("config", "set", "project.worktree_root", "../trees", cwd=repo)
    result = cli("new", "x", "--task", "t", "--no-plan", cwd=repo)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "trees" / "0001-x").is_dir()
    assert git("rev-parse", "0001-x", cwd=repo) == git("rev-parse", "origin/main", cwd=repo)


def test_new_with_an_unknown_engine_is_a_usage_error(repo: Path, cli) -> None:
    cli("init", cwd=repo)
    result = cli("new", "x", "--task", "t", "--engine", "nope", cwd=repo)
    assert result.exit_code == 2 and "unknown engine 'nope'" in result.output
    assert "--engine demo" in result.output


def test_illegal_transition_is_one_line_naming_the_status(repo: Path, cli) -> None:
    cli("init", "--engine", "demo", cwd=repo)
    cli("new", "x", "--task", "t", cwd=repo)
    cli("run", "x", "--wait", cwd=repo)
    result = cli("step", "approve", "x", "1", cwd=repo)
    assert result.exit_code == 1
    assert result.output.strip() == "error: 0001-x: step 1 is already completed"


def test_plan_pause_resume_cancel_and_qa_commands(repo: Path, cli) -> None:
    cli("init", "--engine", "demo", cwd=repo)
    cli("new", "x", "--task", "t", "--no-plan", cwd=repo)
    assert "requested plan" in cli("plan", "x", cwd=repo).output
    assert cli("pause", "x", cwd=repo).output.startswith("paused 0001-x")
    assert cli("resume", "x", cwd=repo).output.startswith("resumed 0001-x")
    planned = cli("plan", "x", "--wait", cwd=repo)
    assert planned.exit_code == 0 and "plan: planned" in planned.output, planned.output
    ran = cli("run", "x", "--step", "1", "--wait", cwd=repo)
    assert "step 01 execute: needs_qa" in ran.output and "step 01 qa: PASS" in ran.output
    again = cli("qa", "x", "1", "--wait", cwd=repo)
    assert "step 01 qa: PASS" in again.output
    assert cli("cancel", "x", "--reason", "done", cwd=repo).output.startswith("cancelled")


def test_one_step_with_qa_at_the_end_says_what_status_says(repo: Path, cli) -> None:
    """`run --step N --wait` reports the wait with the project's settings (qa.policy = end),
    never the defaults': the reconciler has no settings to fall back to."""
    cli("init", "--engine", "demo", cwd=repo)
    cli("new", "x", "--task", "t", "--no-plan", cwd=repo)
    cli("plan", "x", "--wait", cwd=repo)
    cli("config", "set", "qa.policy", "end", cwd=repo)
    ran = cli("run", "x", "--step", "1", "--wait", cwd=repo)
    assert ran.exit_code == 0, ran.output
    assert "a dflow bug" not in ran.output
    assert "waits: one step at a time (loop.mode step); step 02 is next" in ran.output


def test_demo_completes_a_protocol_in_a_kept_scratch_repo(tmp_path: Path, cli,
                                                          monkeypatch) -> None:
    monkeypatch.setenv("CI", "true")
    result = cli("demo", "--keep", str(tmp_path / "d"), cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert "0001-greeting: ready to land, 3/3 steps" in result.output
    assert "dflow: init" in result.output.splitlines()[-3]
    repo = tmp_path / "d" / "shop"
    assert git("show", "0001-greeting:demo_greeting.py", cwd=repo).startswith('"""Greetings')


def test_demo_refuses_a_non_empty_keep_directory(tmp_path: Path, cli) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "file").write_text("x")
    result = cli("demo", "--keep", str(tmp_path / "d"), cwd=tmp_path)
    assert result.exit_code == 2 and "is not empty" in result.output


@pytest.mark.parametrize("command", [workflow_cmds.plan, workflow_cmds.run, workflow_cmds.qa,
                                     workflow_cmds.step_approve, workflow_cmds.step_retry,
                                     workflow_cmds.pause, workflow_cmds.resume,
                                     workflow_cmds.cancel, show_cmds.show,
                                     demo_cmds.demo_cmd])
def test_every_workflow_command_has_help_and_an_example(command) -> None:
    doc = command.__doc__ or ""
    assert doc.strip() and "Example: dflow " in doc


def test_run_wait_exits_4_and_says_why_when_the_run_ends_blocked(repo: Path, cli) -> None:
    cli("init", "--engine", "demo", cwd=repo)
    cli("config", "set", "engines.demo.kind", "demo", cwd=repo)
    cli("config", "set", "engines.demo.options", "{ bug = true }", cwd=repo)
    cli("new", "x", "--task", "t", cwd=repo)
    result = cli("run", "x", "--wait", cwd=repo)
    assert result.exit_code == 4  # ExitCode.WAITING: a person has to act
    assert "step 01 qa: FAIL" in result.output
    assert "0001-x: blocked, 0/3 steps done" in result.output
    retried = cli("step", "retry", "x", "1", "--wait", cwd=repo)
    assert "step 01 qa: PASS" in retried.output


def test_demo_output_reads_as_a_walkthrough(tmp_path: Path, cli, scrubber, snapshot,
                                            monkeypatch) -> None:
    monkeypatch.setenv("CI", "true")
    result = cli("demo", "--keep", str(tmp_path / "d"), cwd=tmp_path)
    text = scrubber(result.output, tmp_path)
    text = re.sub(r"^[0-9a-f]{7} ", "<SHA7> ", text, flags=re.M)
    text = re.sub(r"done in \d+\.\ds", "done in <SECONDS>", text)
    assert (result.exit_code, text) == snapshot


def test_a_run_recorded_before_the_first_commit_gets_its_worktree_when_planned(
        tmp_path: Path, cli) -> None:
    repo = tmp_path / "fresh"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    cli("init", "--engine", "demo", cwd=repo)
    refused = cli("new", "x", "--task", "t", cwd=repo)
    assert refused.exit_code == 1 and "has no commit yet" in refused.output
    assert cli("new", "x", "--task", "t", "--no-plan", cwd=repo).exit_code == 0
    (repo / "README.md").write_text("# fresh\n")
    git("add", "README.md", cwd=repo)
    git("commit", "-qm", "first", cwd=repo)
    result = cli("run", "x", "--wait", cwd=repo)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "fresh.worktrees" / "0001-x" / "demo_x.py").is_file()
