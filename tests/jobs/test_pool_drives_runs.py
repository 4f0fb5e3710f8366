"""A pool finishes what it is given: the run's intent and the reconciler chain its jobs, so no
`dflow run` is needed, and pause/resume, approve and CI results pick up where they left off
(docs/decisions/0800-intent-and-one-reconciler.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from deksdenflow.context.project import Project
from deksdenflow.domain.decisions.reconcile import waiting
from deksdenflow.domain.eventlog.payloads import RunCiReported
from deksdenflow.domain.runs.models import JobStatus
from deksdenflow.store import Tx
from deksdenflow.wiring import open_project

from .conftest import Pool, wait_for

pytestmark = pytest.mark.slow


def _setup(repo: Path, cli: Callable[..., Any], **options: Any) -> Project:
    assert cli("init", "--engine", "demo", cwd=repo).exit_code == 0
    project = open_project(repo)

    def body(tx: Tx) -> None:
        doc = tomlkit.parse(tx.view.project_text())
        doc["engines"] = {"demo": {"kind": "demo", "options": options}}
        tx.set_project_text(tomlkit.dumps(doc))

    project.store.transact(body)
    return project


def _status(project: Project, run: str = "1") -> str:
    return project.view().find_run(run).run.status.value


def _claimed(project: Project, run: str = "1") -> bool:
    return any(j.status == JobStatus.CLAIMED for j in project.view().find_run(run).open_jobs)


def test_new_runs_reach_their_last_verdict_under_a_live_pool_with_no_other_command(
    repo: Path, cli: Callable[..., Any], start_pool: Callable[..., Pool]
) -> None:
    project = _setup(repo, cli)
    for name in ("a", "b", "c"):
        assert cli("new", name, "--task", f"add {name}", cwd=repo).exit_code == 0
    start_pool("-j", "2")
    wait_for(lambda: {s.run.status.value for s in project.view().runs()} == {"completed"},
             timeout=90, what="three runs completed by the pool alone")
    assert all(s.steps[-1].qa is not None for s in project.view().runs())


def test_pause_during_a_claimed_job_then_resume_ends_completed(
    repo: Path, cli: Callable[..., Any], start_pool: Callable[..., Pool]
) -> None:
    project = _setup(repo, cli, delay_s=0.6)
    assert cli("new", "a", "--task", "add a", cwd=repo).exit_code == 0
    start_pool("-j", "1")
    wait_for(lambda: project.view().find_run("1").run.planned and _claimed(project),
             what="a step job claimed")
    assert cli("pause", "1", cwd=repo).exit_code == 0
    wait_for(lambda: not project.view().find_run("1").open_jobs, what="the claimed job done")
    snap = project.view().find_run("1")
    assert snap.run.status.value != "completed"
    reason = waiting(snap, project.settings())
    assert reason is not None and reason.reason == "paused" and "resume" in reason.command
    assert cli("resume", "1", cwd=repo).exit_code == 0
    wait_for(lambda: _status(project) == "completed", timeout=60, what="the resumed run done")


def test_qa_fail_then_approve_ends_completed_under_the_pool(
    repo: Path, cli: Callable[..., Any], start_pool: Callable[..., Pool]
) -> None:
    project = _setup(repo, cli, bug=True)
    assert cli("new", "a", "--task", "add a", cwd=repo).exit_code == 0
    start_pool("-j", "1")
    approved = 0
    for _ in range(3):
        wait_for(lambda: _status(project) in ("blocked", "completed"), timeout=60,
                 what="QA FAIL or the end")
        snap = project.view().find_run("1")
        if snap.run.status.value == "completed":
            break
        blocked = [s.index for s in snap.steps if s.status.value == "blocked"]
        why = waiting(snap, project.settings()) or pytest.fail()
        assert blocked and "dflow step retry" in why.command
        assert cli("step", "approve", "1", str(blocked[0]), cwd=repo).exit_code == 0
        approved += 1
    wait_for(lambda: _status(project) == "completed", timeout=60, what="the approved run done")
    assert approved >= 1


def test_ci_failure_then_success_ends_completed_under_the_pool(
    repo: Path, cli: Callable[..., Any], start_pool: Callable[..., Pool]
) -> None:
    project = _setup(repo, cli, delay_s=0.3)
    assert cli("new", "a", "--task", "add a", cwd=repo).exit_code == 0
    uid = project.view().find_run("1").run.uid

    def ci(status: str) -> None:
        project.store.transact(lambda tx: tx.emit(
            RunCiReported(status=status, url="https://ci/7"), run=uid))

    ci("failure")
    start_pool("-j", "1")
    wait_for(lambda: not project.view().run(uid).open_jobs, what="the pool to stop at CI")  # type: ignore[union-attr]
    snap = project.view().run(uid)
    assert snap is not None and snap.run.status.value == "blocked"
    why = waiting(snap, project.settings()) or pytest.fail()
    assert why.reason == "blocked by ci: CI failed: https://ci/7"
    ci("success")
    wait_for(lambda: _status(project) == "completed", timeout=60, what="the run after green CI")
