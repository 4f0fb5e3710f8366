"""Every waiting reason names the cheapest command that moves the run on, and that command,
run as printed, does move it (a job is requested or the reason changes)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.events import EventType as E
from deksdenflow.domain.eventlog.payloads import payload_of
from deksdenflow.store import Tx
from deksdenflow.workflow.lifecycle import runs

WORK = {"engine": "demo", "model": "demo-1"}
PLANNED = (E.RUN_PLANNED, None, {"steps": [{"index": 1, "title": "One", "file": "01-one.md"},
                                           {"index": 2, "title": "Two", "file": "02-two.md"}]})
RAN = [PLANNED, (E.STEP_STARTED, 1, WORK), (E.STEP_FINISHED, 1, {"next": "needs_qa"})]
Case = tuple[list[tuple[E, int | None, dict[str, Any]]], str, str, list[str] | None]

CASES: dict[str, Case] = {
    # events after `dflow new x --no-plan`, the reason's start, the command, what to run
    "not planned": ([], "not planned yet (hands-off)", "dflow run 0001-x", ["run", "0001-x"]),
    "paused": ([(E.RUN_PAUSED, None, {})], "paused", "dflow resume 0001-x",
               ["resume", "0001-x"]),
    "planning failed": ([(E.RUN_PLAN_STARTED, None, {}),
                         (E.RUN_PLAN_FAILED, None, {"reason": "boom", "final": True})],
                        "planning failed: boom", "fix the cause, then dflow plan 0001-x",
                        ["plan", "0001-x"]),
    "next step": ([PLANNED], "step 01 is next (hands-off)", "dflow run 0001-x",
                  ["run", "0001-x"]),
    "awaits QA": (RAN, "step 01 awaits QA (hands-off)", "dflow qa 0001-x 1",
                  ["qa", "0001-x", "1"]),
    "QA could not run": ([*RAN, (E.STEP_BLOCKED, 1, {"reason": "QA could not run: refused"})],
                         "step 01 is blocked: QA could not run: refused",
                         "dflow qa 0001-x 1 (or dflow step approve 0001-x 1)",
                         ["qa", "0001-x", "1"]),
    "QA failed": ([*RAN, (E.STEP_QA_VERDICT, 1, {"verdict": "FAIL", "summary": "no test"})],
                  "step 01 is blocked: QA failed: no test",
                  "dflow step retry 0001-x 1 (or dflow step approve 0001-x 1)",
                  ["step", "retry", "0001-x", "1"]),
    "agent failed": ([PLANNED, (E.STEP_STARTED, 1, WORK),
                      (E.STEP_FAILED, 1, {"reason": "gave up", "final": True})],
                     "step 01 is failed: gave up",
                     "dflow step retry 0001-x 1 (or dflow step approve 0001-x 1)",
                     ["step", "retry", "0001-x", "1"]),
    "never ran": ([PLANNED, (E.STEP_BLOCKED, 1, {"reason": "no engine"})],
                  "step 01 is blocked: no engine", "dflow step retry 0001-x 1",
                  ["step", "retry", "0001-x", "1"]),
    "land conflict": ([*RAN, (E.STEP_QA_VERDICT, 1, {"verdict": "PASS"}),
                       (E.RUN_BLOCKED, None, {"key": "land", "reason": "a.py conflicts"})],
                      "blocked by land: a.py conflicts", "merge the base into the run branch, "
                      "resolve, commit, then dflow land 0001-x", None),
}


def _line(cli, repo: Path) -> dict[str, Any]:
    result = cli("status", "0001-x", "--json", cwd=repo)
    line: dict[str, Any] = json.loads(result.output)["runs"][0]
    return line


@pytest.mark.parametrize("case", list(CASES))
def test_each_waiting_reason_names_the_command_that_moves_the_run(
        project: Project, repo: Path, cli, case: str) -> None:
    events, reason, command, argv = CASES[case]
    uid = runs.create_run(project, "x", "t", plan=False).run.uid

    def record(tx: Tx) -> None:
        for kind, step, data in events:
            tx.emit(payload_of(kind, data), run=uid, step=step)

    project.store.transact(record)
    before = _line(cli, repo)
    assert before["waiting"]["reason"].startswith(reason)
    assert before["waiting"]["command"] == command
    if argv is None:
        return
    assert command.split(" (or ")[0].endswith(" ".join(["dflow", *argv]))
    moved = cli(*argv, cwd=repo)
    assert moved.exit_code == 0, moved.output
    after = _line(cli, repo)
    assert after["open_jobs"] or after["waiting"] != before["waiting"], after


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_after_the_qa_engine_was_unreachable_the_hint_reviews_again(repo: Path, cli) -> None:
    """The hint was `dflow step retry` (the agent runs and spends tokens again); reviewing
    again is what is missing, and it does not run the step's agent."""
    assert cli("init", "--engine", "demo", cwd=repo).exit_code == 0
    for key, value in (("engines.down.kind", "openai"), ("engines.down.model", "m"),
                       ("engines.down.options.base_url",
                        f"http://127.0.0.1:{_closed_port()}/v1"),
                       ("phases.qa", "down"), ("retry.qa.max_attempts", "1")):
        assert cli("config", "set", key, value, cwd=repo).exit_code == 0
    cli("new", "x", "--task", "say hello", cwd=repo)
    ran = cli("run", "x", "--wait", cwd=repo)
    assert ran.exit_code == 4, ran.output
    line = _line(cli, repo)
    assert line["waiting"]["reason"].startswith("step 01 is blocked: QA could not run: engine "
                                                "'down' cannot reach")
    assert line["waiting"]["command"] == "dflow qa 0001-x 1 (or dflow step approve 0001-x 1)"
    assert f"— `{line['waiting']['command']}`" in ran.output
    assert cli("config", "set", "phases.qa", "demo", cwd=repo).exit_code == 0
    reviewed = cli("qa", "0001-x", "1", "--wait", cwd=repo)
    assert "step 01 qa: PASS" in reviewed.output, reviewed.output
    step = _line(cli, repo)["steps"][0]
    assert (step["status"], step["attempts"]) == ("completed", 1)  # the agent did not run again
