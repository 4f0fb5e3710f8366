"""The worker pool with real processes: races, crashes, retries, signals."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.events import EventType
from deksdenflow.domain.eventlog.payloads import JobFailed
from deksdenflow.domain.runs.models import JobKind, JobStatus, StepStatus
from deksdenflow.jobs import queue
from deksdenflow.jobs.pool import live_workers

from .conftest import Pool, lines, planned_run, request, wait_for

pytestmark = pytest.mark.slow


def test_two_pools_racing_for_200_jobs_run_each_exactly_once(
    project: Project, start_pool: Callable[..., Pool], tmp_path: Path
) -> None:
    out = tmp_path / "done.txt"
    ids = project.store.transact(lambda tx: [
        queue.request(tx, JobKind.NOOP, run=None, payload={"file": str(out)}).id
        for _ in range(200)
    ])
    first, second = start_pool("-j", "2", "--burst"), start_pool("-j", "2", "--burst")
    assert (first.wait(), second.wait()) == (0, 0), first.output() + second.output()
    counts = Counter(lines(out))
    assert set(counts) == set(ids)
    assert max(counts.values()) == 1
    assert project.view().open_jobs() == []


def test_sigkilled_worker_job_is_retried_and_completed_once(
    project: Project, start_pool: Callable[..., Pool], tmp_path: Path
) -> None:
    out, started = tmp_path / "done.txt", tmp_path / "started.txt"
    uid = planned_run(project)
    job = request(project, uid, 1, file=str(out), started=str(started), sleep_once=60)
    pool = start_pool("-j", "1", "--burst")
    victim = int(wait_for(lambda: lines(started), what="the job to start")[1])
    os.kill(victim, signal.SIGKILL)
    assert pool.wait() == 0, pool.output()

    assert lines(out) == [job.id]
    snap = project.view().run(uid)
    assert snap is not None
    step = snap.step(1)
    assert step is not None and step.status == StepStatus.COMPLETED and step.attempts == 2
    history = [e.type for e in project.view().run_events(uid) if e.step == 1]
    assert history == [
        EventType.JOB_REQUESTED, EventType.JOB_CLAIMED, EventType.STEP_STARTED,
        EventType.STEP_FAILED, EventType.JOB_FAILED,
        EventType.JOB_CLAIMED, EventType.STEP_STARTED, EventType.STEP_FINISHED,
        EventType.JOB_FINISHED,
    ]
    failed = next(e for e in project.view().run_events(uid) if e.type == EventType.JOB_FAILED)
    assert "stopped while running the job" in failed.payload(JobFailed).error
    assert f"exited with -{signal.SIGKILL}" in pool.output()


def test_retry_limit_reached_fails_the_step_with_the_reason(
    project: Project, start_pool: Callable[..., Pool], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DFLOW_RETRY_MAX_ATTEMPTS", "2")
    uid = planned_run(project)
    request(project, uid, 1, file=str(tmp_path / "done.txt"), fail=True)
    assert start_pool("-j", "1", "--burst").wait() == 0

    snap = project.view().run(uid)
    assert snap is not None
    step = snap.step(1)
    assert step is not None
    assert (step.status, step.final_failure, step.attempts) == (StepStatus.FAILED, True, 2)
    assert step.reason == "the test handler was told to fail"
    assert snap.run.status.value == "blocked"
    assert [j.status for j in snap.jobs] == [JobStatus.FAILED]
    assert not (tmp_path / "done.txt").exists()


def test_sigterm_lets_the_running_job_finish(
    project: Project, start_pool: Callable[..., Pool], tmp_path: Path
) -> None:
    out, started = tmp_path / "done.txt", tmp_path / "started.txt"
    job = request(project, file=str(out), started=str(started), sleep_once=1)
    pool = start_pool("-j", "1")
    wait_for(lambda: lines(started), what="the job to start")
    pool.signal(signal.SIGTERM)
    assert pool.wait() == 0, pool.output()
    assert lines(out) == [job.id]
    assert project.view().open_jobs() == []


def test_sigterm_after_the_grace_period_releases_the_job_and_it_is_not_lost(
    project: Project, start_pool: Callable[..., Pool], tmp_path: Path
) -> None:
    out, started = tmp_path / "done.txt", tmp_path / "started.txt"
    uid = planned_run(project)
    job = request(project, uid, 1, file=str(out), started=str(started), sleep_once=60)
    pool = start_pool("-j", "1", "--grace", "0.2")
    wait_for(lambda: lines(started), what="the job to start")
    pool.signal(signal.SIGTERM)
    assert pool.wait() == 0, pool.output()
    assert "released" in pool.output()
    released = project.view().open_job(job.id)
    assert released is not None and released.status == JobStatus.REQUESTED
    assert released.failures == 0

    assert start_pool("-j", "1", "--burst").wait() == 0
    assert lines(out) == [job.id]
    snap = project.view().run(uid)
    assert snap is not None and snap.step(1) is not None
    assert snap.step(1).status == StepStatus.COMPLETED  # type: ignore[union-attr]


def test_workers_lists_the_live_workers_and_their_jobs(
    project: Project, start_pool: Callable[..., Pool], tmp_path: Path,
    cli: Callable[..., object], repo: Path,
) -> None:
    started = tmp_path / "started.txt"
    job = request(project, file=str(tmp_path / "done.txt"), started=str(started), sleep_once=60)
    start_pool("-j", "2")
    pid = int(wait_for(lambda: lines(started), what="the job to start")[1])
    wait_for(lambda: len(live_workers(project)) == 2, what="both workers to start")
    result = cli("workers", "--json", cwd=repo)
    listed = json.loads(result.output)  # type: ignore[attr-defined]
    assert len(listed) == 2
    busy = [w for w in listed if w["job"]]
    assert [(w["pid"], w["job"], w["kind"]) for w in busy] == [(pid, job.id, "noop")]


def test_second_ctrl_c_stops_at_once_and_the_job_is_recovered_later(
    project: Project, start_pool: Callable[..., Pool], tmp_path: Path
) -> None:
    out, started = tmp_path / "done.txt", tmp_path / "started.txt"
    uid = planned_run(project)
    job = request(project, uid, 1, file=str(out), started=str(started), sleep_once=60)
    pool = start_pool("-j", "1")
    wait_for(lambda: lines(started), what="the job to start")
    assert pool.interrupt_twice() == 130
    left = project.view().open_job(job.id)
    assert left is not None and left.status == JobStatus.CLAIMED

    assert start_pool("-j", "1", "--burst").wait() == 0
    assert lines(out) == [job.id]
    snap = project.view().run(uid)
    assert snap is not None and snap.step(1) is not None
    assert snap.step(1).status == StepStatus.COMPLETED  # type: ignore[union-attr]
    assert EventType.STEP_FAILED in [e.type for e in project.view().run_events(uid)]


def test_workers_that_die_as_they_start_stop_the_pool_with_an_error(
    project: Project, start_pool: Callable[..., Pool], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DFLOW_JOB_HANDLERS", "tests.jobs.crashing_handlers")
    pool = start_pool("-j", "1")
    assert pool.wait() == 1
    assert "error: 3 workers died within 5s of starting" in pool.output()
