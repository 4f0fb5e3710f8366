"""Untrusted agent output, failing checks, timeouts, budgets and illegal transitions."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import tomlkit

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import RunNote
from deksdenflow.domain.runs.models import RunStatus, StepStatus
from deksdenflow.errors import BudgetExceeded, IllegalTransition, StepNotFound
from deksdenflow.workflow.lifecycle import controls
from tests.conftest import git
from tests.engines.conftest import install_fake
from tests.workflow.conftest import configure, settle

ONE_ATTEMPT = {"retry.max_attempts": 1}


def inline(options: dict[str, object]) -> str:
    table = tomlkit.inline_table()
    table.update(options)
    return table.as_string()


def _demo_options(project: Project, options: dict[str, object]) -> None:
    configure(project, {"engines.demo.kind": '"demo"', "engines.demo.options": inline(options)})


def test_qa_fail_blocks_the_step_and_a_retry_with_the_findings_passes(project: Project,
                                                                     new_run) -> None:
    _demo_options(project, {"bug": True})  # step 01's first module is wrong
    new_run()
    blocked = settle(project)
    step = blocked.steps[0]
    assert blocked.run.status == RunStatus.BLOCKED
    assert (step.status, step.qa.verdict if step.qa else None) == (StepStatus.BLOCKED, "FAIL")
    assert any("Hello, Ada!" in f for f in step.qa.findings)  # the real doctest's complaint
    assert blocked.steps[1].status == StepStatus.PENDING

    controls.retry_step(project, "0001-x", 1)
    done = settle(project)

    assert done.run.status == RunStatus.COMPLETED
    assert (done.steps[0].attempts, done.steps[0].qa.verdict) == (2, "PASS")
    view = project.view()
    retry_log = [n for n in view.artifact_names(done.run.uid) if n.startswith(
        "transcripts/01-execute-") and n.endswith("-2.log")]
    text = view.artifact(done.run.uid, retry_log[0]) or b""
    assert b"## Findings from the last QA" in text and b"Hello, Ada!" in text


def test_auto_retry_reruns_a_failed_step_without_a_person(project: Project, new_run) -> None:
    _demo_options(project, {"bug": True})
    configure(project, {"qa.auto_retry": 1})
    new_run()
    snap = settle(project)
    assert snap.run.status == RunStatus.COMPLETED and snap.steps[0].attempts == 2


def test_a_missing_verdict_is_a_failed_attempt_never_a_pass(project: Project, new_run) -> None:
    _demo_options(project, {"qa_reply": "Looks good to me!"})
    configure(project, ONE_ATTEMPT)
    new_run()
    snap = settle(project)
    step = snap.steps[0]
    assert snap.run.status == RunStatus.BLOCKED
    assert step.status == StepStatus.BLOCKED and step.qa is None
    assert "no valid verdict" in step.reason and "never counts as PASS" in step.reason


@pytest.mark.parametrize("verdict", [{"verdict": "MAYBE", "summary": "", "findings": []},
                                     {"verdict": "PASS"}])
def test_a_malformed_verdict_is_rejected(project: Project, new_run, verdict: dict) -> None:
    _demo_options(project, {"qa_reply": json.dumps(verdict)})
    configure(project, ONE_ATTEMPT)
    new_run()
    assert settle(project).steps[0].status == StepStatus.BLOCKED


@pytest.mark.parametrize("bad_name", ["../escape.md", "/etc/passwd", "sub/dir.md", "x y.md",
                                      ".."])
def test_a_proposed_file_outside_the_protocol_folder_rejects_the_plan(
        project: Project, new_run, repo: Path, bad_name: str) -> None:
    plan = {"summary": "s", "steps": [{"index": 1, "type": "work", "title": "t",
                                       "file": "01-a.md"}],
            "files": [{"path": n, "content": "x"} for n in
                      ("plan.md", "context.md", "log.md", "01-a.md", bad_name)]}
    _demo_options(project, {"plan_reply": json.dumps(plan)})
    configure(project, ONE_ATTEMPT)
    created = new_run()
    snap = controls.wait(project, "1", "w-test")
    assert snap.run.status == RunStatus.BLOCKED and not snap.run.planned
    assert "not a plain file name inside .protocols/0001-x/" in snap.run.blocks["plan"]
    assert not (Path(created.run.worktree).parent / "escape.md").exists()
    assert git("rev-parse", "0001-x", cwd=repo) == git("rev-parse", "main", cwd=repo)


def test_a_plan_that_breaks_its_schema_is_a_failed_attempt(project: Project, new_run) -> None:
    _demo_options(project, {"plan_reply": '{"steps": "all of them"}'})
    configure(project, ONE_ATTEMPT)
    new_run()
    snap = controls.wait(project, "1", "w-test")
    assert "does not match the plan schema" in snap.run.blocks["plan"]
    names = project.view().artifact_names(snap.run.uid)
    assert any(n.startswith("transcripts/plan-") and "-failed-" in n for n in names)


def test_an_engine_timeout_is_a_failed_attempt_with_a_clear_message(project: Project,
                                                                   new_run) -> None:
    sleeper = f"{sys.executable} -c 'import time; time.sleep(60)'"
    configure(project, {**ONE_ATTEMPT, "engines.slow.kind": '"command"',
                        "engines.slow.timeout": 1,
                        "engines.slow.options": inline({"command": sleeper}),
                        "phases.plan": '"slow"'})
    new_run()
    snap = controls.wait(project, "1", "w-test")
    assert snap.run.status == RunStatus.BLOCKED
    assert "timed out" in snap.run.blocks["plan"] or "timeout" in snap.run.blocks["plan"]


def test_a_strict_budget_blocks_the_run_until_it_is_raised(project: Project, new_run) -> None:
    configure(project, {"budget.tokens": 100, "budget.mode": '"strict"'})
    new_run()
    snap = settle(project)  # the plan alone uses more than 100 tokens
    assert snap.run.status == RunStatus.BLOCKED and "budget" in snap.run.blocks
    assert snap.steps[0].status == StepStatus.PENDING
    with pytest.raises(BudgetExceeded, match="budget of 100"):
        controls.request_next(project, "1")
    configure(project, {"budget.tokens": 1_000_000})
    assert settle(project).run.status == RunStatus.COMPLETED


def test_a_warn_budget_notes_and_carries_on(project: Project, new_run) -> None:
    configure(project, {"budget.tokens": 100, "budget.mode": '"warn"'})
    new_run()
    snap = settle(project)
    assert snap.run.status == RunStatus.COMPLETED
    notes = [e.data for e in project.view().run_events(snap.run.uid)
             if isinstance(e.data, RunNote)]
    assert notes and "budget of 100" in notes[0].text and notes[0].level == "warning"


def test_illegal_transitions_name_the_current_status(project: Project, new_run) -> None:
    new_run()
    settle(project)
    with pytest.raises(IllegalTransition, match="step 1 is already completed"):
        controls.approve_step(project, "x", 1)
    with pytest.raises(IllegalTransition, match="0001-x is ready to land; nothing left to "
                       "run \\(`dflow land 0001-x`, or `dflow cancel 0001-x` to abandon it\\)"):
        controls.request_next(project, "x")
    with pytest.raises(IllegalTransition, match="is ready to land, not paused"):
        controls.resume(project, "x")
    controls.cancel(project, "x")  # a ready run can be abandoned (decision 1572)
    with pytest.raises(IllegalTransition, match="cannot cancel: run is cancelled"):
        controls.cancel(project, "x")
    with pytest.raises(StepNotFound, match="has no step 7"):
        controls.retry_step(project, "x", 7)


def test_pause_holds_waiting_work_and_resume_requests_it_again(project: Project,
                                                              new_run) -> None:
    new_run()
    paused = controls.pause(project, "x")
    assert paused.run.paused and not paused.open_jobs
    with pytest.raises(IllegalTransition, match="paused"):
        controls.request_next(project, "x")
    resumed = controls.resume(project, "x")
    assert [j.kind.value for j in resumed.open_jobs] == ["plan"]
    assert settle(project).run.status == RunStatus.COMPLETED


def test_cancel_is_terminal_and_drops_waiting_jobs(project: Project, new_run) -> None:
    new_run()
    snap = controls.cancel(project, "x", "changed my mind")
    assert snap.run.status == RunStatus.CANCELLED and not snap.open_jobs
    with pytest.raises(IllegalTransition, match="cancelled"):
        controls.request_plan(project, "x")


def test_approve_overrides_a_blocked_step(project: Project, new_run) -> None:
    _demo_options(project, {"bug": True})
    new_run()
    settle(project)
    snap = controls.approve_step(project, "x", 1)
    assert snap.steps[0].status == StepStatus.COMPLETED
    assert snap.run.status == RunStatus.RUNNING


def test_secrets_in_agent_output_never_reach_the_state_ref(project: Project, new_run, repo: Path,
                                                          tmp_path: Path, monkeypatch) -> None:
    secret = "hunter2-very-secret-value"
    monkeypatch.setenv("MY_DEPLOY_TOKEN", secret)
    reviewer = install_fake("codex", tmp_path, monkeypatch)  # the agent leaks; config does not
    reviewer.script(message=json.dumps({
        "verdict": "FAIL", "summary": f"found {secret} in the logs",
        "findings": [f"token {secret} printed", "sk-proj-abcdefghijklmnopqrstuvwxyz123"]}))
    configure(project, {"secrets.env": '["MY_DEPLOY_TOKEN"]', "phases.qa": '"codex"'})
    new_run()
    snap = settle(project)
    assert snap.steps[0].qa is not None and "[REDACTED]" in snap.steps[0].qa.summary
    dump = git("log", "-p", "refs/deksdenflow/state", cwd=repo)
    assert secret not in dump and "sk-proj-abcdefghij" not in dump
    assert "[REDACTED]" in dump


@pytest.mark.parametrize(("deps", "named"), [
    ({1: [2], 2: [1]}, "cycle: 01 → 02 → 01"),
    ({1: [1], 2: None}, "step 01 depends on itself"),
    ({1: [], 2: [9]}, "depends on step 09, which the plan does not have"),
])
def test_a_plan_whose_dependencies_cannot_run_is_refused_naming_them(
        project: Project, new_run, deps: dict[int, list[int] | None], named: str) -> None:
    plan = {"summary": "s", "steps": [{"index": i, "type": "work", "title": "t",
                                       "file": f"0{i}-a.md", "depends_on": d}
                                      for i, d in deps.items()],
            "files": [{"path": n, "content": "x"} for n in
                      ("plan.md", "context.md", "log.md", "01-a.md", "02-a.md")]}
    _demo_options(project, {"plan_reply": json.dumps(plan)})
    configure(project, ONE_ATTEMPT)
    new_run()
    snap = controls.wait(project, "1", "w-test")
    assert not snap.run.planned and named in snap.run.blocks["plan"]
