"""`dflow show` shows every fact on the ref: CI with its log, notes, failures, transcripts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from deksdenflow.domain.runs.models import JobKind
from deksdenflow.jobs import runner
from deksdenflow.wiring import open_project
from tests.conftest import scrub
from tests.workflow.conftest import configure

BROKEN = """
[engines.broken]
kind = "command"
options = { command = "sh -c 'echo the fixer fell over >&2; exit 3'" }
"""


def facts_of(output: str, *paths: Path) -> str:
    """The part of `dflow show` after the step table, without the event list."""
    start = min(i for i in (output.find("\nCI:"),
                            output.find("\nnotes:"), output.find("\nfailures:"),
                            output.find("\nattempts")) if i >= 0)
    text = output[start:output.index("\nrecent events:")]
    return re.sub(r"\b\d\d:\d\d:\d\d\b", "<HH:MM:SS>", scrub(text, *paths))


@pytest.fixture
def demo(repo: Path, cli) -> Path:
    assert cli("init", "--engine", "demo", cwd=repo).exit_code == 0
    return repo


def test_show_with_a_ci_failure_has_the_redacted_log_and_its_url(demo: Path, cli, snapshot,
                                                                 tmp_path: Path) -> None:
    cli("new", "x", "--task", "add a greeting", cwd=demo)
    assert cli("run", "x", "--wait", cwd=demo).exit_code == 0
    log = tmp_path / "checks.log"
    log.write_text("collecting...\nFAILED test_x.py::test_greet\n"
                   "token=ghp_abcdefghijklmnopqrstuvwxyz0123456789\n1 failed\n")
    report = cli("ci", "report", "--status", "failure", "--branch", "0001-x", "--url",
                 "https://ci.example/jobs/42", "--log", str(log), cwd=demo)
    assert report.exit_code == 0, report.output
    out = cli("show", "x", cwd=demo).output
    assert "ghp_abcdefghijklmnopqrstuvwxyz0123456789" not in out
    assert facts_of(out, demo.parent) == snapshot


def test_show_with_a_fix_ci_give_up_has_the_note(demo: Path, cli, snapshot) -> None:
    cli("new", "x", "--task", "add a greeting", cwd=demo)
    assert cli("run", "x", "--wait", cwd=demo).exit_code == 0
    project = open_project(demo)
    project.store.transact(lambda tx: tx.set_project_text(tx.view.project_text() + BROKEN))
    configure(project, {"ci.fix": '"auto"', "ci.max_fix_attempts": 1,
                        "phases.execute": '"broken"', "retry.max_attempts": 1})
    assert cli("ci", "report", "--status", "failure", "--branch", "0001-x",
               cwd=demo).exit_code == 0
    runner.drain(project, "w-fix", kinds={JobKind.FIX_CI})
    out = cli("show", "x", cwd=demo).output
    assert "fix-CI gave up" in out
    assert facts_of(out, demo.parent) == snapshot


def test_show_with_a_malformed_verdict_has_its_reason(demo: Path, cli, snapshot) -> None:
    configure(open_project(demo), {"engines.demo.kind": '"demo"', "retry.max_attempts": 1,
                                 "engines.demo.options": "{ qa_reply = 'Looks good to me!' }"})
    cli("new", "x", "--task", "add a greeting", cwd=demo)
    assert cli("run", "x", "--wait", cwd=demo).exit_code == 4  # blocked: waits for a person
    out = cli("show", "x", cwd=demo).output
    assert "no valid verdict" in out
    assert facts_of(out, demo.parent) == snapshot


def test_logs_prints_a_transcript_and_names_the_attempts(demo: Path, cli) -> None:
    cli("new", "x", "--task", "add a greeting", cwd=demo)
    cli("run", "x", "--wait", cwd=demo)
    data = json.loads(cli("show", "x", "--json", cwd=demo).output)
    commands = [t["command"] for t in data["facts"]["transcripts"]]
    assert "dflow logs 0001-x 2 --attempt 1" in commands
    shown = cli("logs", "x", "2", cwd=demo)
    assert shown.exit_code == 0 and shown.output.startswith("# transcripts/02-execute-")
    assert "[demo] execute" in shown.output
    wrong = cli("logs", "x", "2", "--attempt", "4", cwd=demo)
    assert wrong.exit_code == 1
    assert "step 02 execute has 1 transcript; choose --attempt 1 to 1" in wrong.output


def test_show_stops_listing_a_planning_failure_once_planning_succeeded(demo: Path,
                                                                         cli) -> None:
    import os
    import subprocess
    import sys

    cli("config", "set", "engines.broken.kind", "command", cwd=demo)
    cli("config", "set", "engines.broken.options.command", "sh -c 'exit 3'", cwd=demo)
    cli("config", "set", "retry.max_attempts", "1", cwd=demo)
    cli("new", "x", "--task", "add a greeting", cwd=demo)
    failed = cli("plan", "x", "--wait", "--engine", "broken", cwd=demo)
    assert failed.exit_code != 0
    assert "\nfailures:\n" in cli("show", "x", cwd=demo).output  # a problem now: listed
    fixed = cli("plan", "x", "--wait", "--engine", "demo", cwd=demo)
    assert fixed.exit_code == 0, fixed.output
    typer_path = cli("show", "x", cwd=demo).output
    assert "failures:" not in typer_path and "\nno plan yet" not in typer_path
    dflow = str(Path(sys.executable).with_name("dflow"))
    env = {**os.environ, "COLUMNS": str(80)}
    fast = subprocess.run([dflow, "show", "x"], cwd=demo, env=env, capture_output=True,
                          text=True, check=True).stdout
    assert "failures:" not in fast
    assert "job.failed" in cli("events", "x", cwd=demo).output  # history keeps it


def test_logs_prompt_prints_what_the_agent_was_told_redacted(demo: Path, cli) -> None:
    token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
    cli("new", "x", "--task", f"add a greeting; the token is {token}", cwd=demo)
    assert cli("run", "x", "--wait", cwd=demo).exit_code == 0
    plan = cli("logs", "x", "--prompt", cwd=demo).output
    assert plan.startswith("# prompts/plan-") and "add a greeting" in plan
    step = cli("logs", "x", "1", "--prompt", cwd=demo).output
    assert step.startswith("# prompts/01-execute-") and "# Execute one step" in step
    review = cli("logs", "x", "1", "--qa", "--prompt", cwd=demo).output
    assert review.startswith("# prompts/01-qa-")
    assert all(token not in text for text in (plan, step, review))
    assert cli("logs", "x", "1", cwd=demo).output.startswith("# transcripts/01-execute-")
