"""Whole protocols through `dflow` with the real, pinned Claude Code CLI doing every phase.

The model is the scripted server speaking the Anthropic Messages API (streamed, with tool use),
so every plan file, file change, token figure, cost and verdict below comes from the script and
has travelled through the real `claude -p` and dflow's own parsing. Execution runs in Claude
Code's own sandbox (bubblewrap + socat), planning and QA with read-only tools.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..conftest import git, make_repo
from .conftest import ANTHROPIC_KEY, CLAUDE_MODEL, ClaudeSetup
from .model_server import Message, Recorded, ShellCall, ToolCall, Usage
from .test_protocol import (
    FOLDER,
    GREET_PY,
    RUN,
    TEST_PY,
    Cli,
    dflow,
    in_process,
    plan,
    show,
    start_run,
    state_files_containing,
    verdict,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Anthropic's list prices for Sonnet 4.5 per token: input, cache write, cache read, output.
SONNET = (3e-6, 3.75e-6, 0.3e-6, 15e-6)


def sonnet_cost(*usages: Usage) -> float:
    """What Claude Code charges for these requests (it prices them itself, from the model)."""
    return sum(
        (u.input_tokens - u.cached_input_tokens - u.cache_write_input_tokens) * SONNET[0]
        + u.cache_write_input_tokens * SONNET[1]
        + u.cached_input_tokens * SONNET[2]
        + u.output_tokens * SONNET[3]
        for u in usages
    )


def tools_offered(request: Recorded) -> set[str]:
    return {str(t.get("name")) for t in request.body.get("tools", [])}


def start_claude_run(cli: Cli, repo: Path, *settings: tuple[str, str]) -> None:
    start_run(cli, repo, "claude", ("engines.claude.model", CLAUDE_MODEL), *settings)


def start_claude_after_quick_plan(
    cli: Cli, setup: ClaudeSetup, repo: Path, *settings: tuple[str, str]
) -> None:
    """A run whose plan comes from the `openai` engine on the same server (one HTTP request,
    no CLI to start) and whose other phases are Claude Code's: for the tests about execution."""
    in_process(cli, "init", "--engine", "claude", cwd=repo)
    for key, value in (
        ("engines.claude.model", CLAUDE_MODEL), ("phases.plan", "openai"),
        ("engines.openai.model", "scripted-planner"),
        ("engines.openai.options.base_url", setup.server.base_url), *settings,
    ):  # fmt: skip
        in_process(cli, "config", "set", key, value, cwd=repo)
    in_process(cli, "new", "greet", "--task", "Add a greet() function", cwd=repo)


def test_real_claude_plans_executes_retries_after_qa_fail_and_is_ready_to_land(
    claude_setup: ClaudeSetup, tmp_path: Path, cli: Cli
) -> None:
    repo = make_repo(tmp_path / "repo")
    worktree = tmp_path / "repo.worktrees" / RUN
    usage = [
        Usage(900, 300),
        Usage(400, 30, 300, cache_write_input_tokens=50),
        Usage(500, 20, 400),
        Usage(600, 50),
        Usage(700, 40),
        Usage(800, 10),
        Usage(650, 60),
    ]
    claude_setup.server.queue(
        Message(plan(("add-greet", "Add greet()")), usage[0]),
        ShellCall("printf 'def greet(name):\\n    return name\\n' > greet.py", usage[1]),
        Message("Added greet().", usage[2]),
        Message(
            verdict("FAIL", "greet() returns the bare name.", ["no 'Hello, ' prefix"]), usage[3]
        ),
        ShellCall(f"printf '%s' '{GREET_PY}' > greet.py", usage[4]),
        ToolCall("Write", {"file_path": str(worktree / "test_greet.py"), "content": TEST_PY}),
        Message("greet() now greets.", usage[5]),
        Message(verdict("PASS", "greet() returns the greeting."), usage[6]),
    )
    usage.insert(5, Usage())  # the Write call's request
    start_claude_run(cli, repo, ("qa.auto_retry", "1"))

    done = dflow("run", RUN, "--wait", cwd=repo)

    server = claude_setup.server
    assert server.pending() == [] and server.errors == [], server.errors
    assert "ready to land" in done.stdout
    # The planner's files and the agent's work (Bash commands, and after QA's FAIL the Write
    # tool too) are committed by dflow on the run's branch.
    assert git("show", f"{RUN}:{FOLDER}/01-add-greet.md", cwd=repo) == "# Add greet()\n\nDo it."
    assert git("show", f"{RUN}:greet.py", cwd=repo) + "\n" == GREET_PY
    assert git("show", f"{RUN}:test_greet.py", cwd=repo) + "\n" == TEST_PY
    assert git("status", "--porcelain", cwd=worktree) == ""
    # Ready to land: every step passed QA.
    ready = json.loads(in_process(cli, "status", "--ready", "--json", cwd=repo))
    assert [r["id"] for r in ready["runs"]] == [RUN]
    # Usage and cost from Claude Code's result; the step has both attempts', the run all.
    detail = show(cli, repo)
    (step,) = detail["steps"]
    assert (step["status"], step["attempts"], step["qa"]["verdict"]) == ("completed", 2, "PASS")
    assert (step["engine"], step["model"]) == ("claude", CLAUDE_MODEL)
    assert step["usage"] == {"input_tokens": 2500, "output_tokens": 120,
                             "cached_input_tokens": 700}  # fmt: skip
    assert step["cost"] == pytest.approx(sonnet_cost(*usage[1:3], *usage[4:7]))
    assert detail["run"]["cost"] == pytest.approx(sonnet_cost(*usage))
    # Each attempt says it ran in Claude Code's sandbox; `show` prints it.
    attempts = detail["facts"]["attempts"]
    assert [(a["kind"], a["outcome"], a["sandboxed"]) for a in attempts] == [
        ("execute", "finished", True), ("qa", "FAIL", True),
        ("execute", "finished", True), ("qa", "PASS", True)]  # fmt: skip
    assert "claude/claude-sonnet-4-5  sandboxed" in in_process(cli, "show", RUN, cwd=repo)
    # Planning and QA were offered no tool that writes or runs commands; execution was, and
    # the retry's prompt carried the review's findings.
    requests = server.model_requests()
    for index in (0, 3, 7):
        assert not tools_offered(requests[index]) & {"Bash", "Write", "Edit"}
    assert {"Bash", "Write"} <= tools_offered(requests[1])
    assert "Add a greet() function" in requests[0].text()
    assert "no 'Hello, ' prefix" in requests[4].text()
    assert all(r.headers.get("x-api-key") == ANTHROPIC_KEY for r in requests)
    # The real CLI's transcripts are kept on the state ref; the API key never is.
    assert any("01-execute" in p for p in state_files_containing(repo, '"sandbox_enabled":true'))
    assert state_files_containing(repo, ANTHROPIC_KEY) == []


def test_a_malformed_verdict_from_real_claude_blocks_the_step(
    claude_setup: ClaudeSetup, tmp_path: Path, cli: Cli
) -> None:
    repo = make_repo(tmp_path / "repo")
    claude_setup.server.queue(
        Message(plan(("add-greet", "Add greet()"))),
        ShellCall(f"printf '%s' '{GREET_PY}' > greet.py"),
        Message("Added greet()."),
        Message("PASS - looks good to me"),  # not the verdict object: never a PASS
    )
    start_claude_after_quick_plan(cli, claude_setup, repo, ("retry.max_attempts", "1"))

    done = dflow("run", RUN, "--wait", cwd=repo, ok=False)

    assert done.returncode == 4, done.stderr  # blocked: waits for a person
    assert claude_setup.server.pending() == []
    (step,) = show(cli, repo)["steps"]
    assert step["status"] == "blocked"
    assert step["qa"] is None or step["qa"]["verdict"] != "PASS"
    assert "not JSON" in step["reason"]
    assert git("show", f"{RUN}:greet.py", cwd=repo) + "\n" == GREET_PY
