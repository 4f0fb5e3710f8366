"""Claims, job locks and recovery, in one process against a real repository."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from deksdenflow.context.project import Project
from deksdenflow.domain.config.settings import RetrySection
from deksdenflow.domain.eventlog.payloads import StepStarted
from deksdenflow.domain.runs.models import JobKind, JobStatus
from deksdenflow.jobs import queue
from deksdenflow.jobs.claims import LocalClaims, claim_batch, fair_share, open_in
from deksdenflow.jobs.liveness import JobLocks, new_worker_id
from deksdenflow.jobs.recovery import recover
from deksdenflow.store import Tx
from deksdenflow.store.encoding.open_jobs import OpenJobs
from deksdenflow.wiring import open_project

from .conftest import planned_run, request


def _claim(project: Project, locks: JobLocks, limit: int = 1, worker: str | None = None):  # type: ignore[no-untyped-def]
    cache, who = OpenJobs(), worker or new_worker_id(project.store)
    return project.store.transact(
        lambda tx: claim_batch(tx, who, LocalClaims(locks), open_in(tx, cache), limit=limit))


def test_a_job_whose_lock_another_holder_has_is_not_claimed(project: Project) -> None:
    job = request(project)
    other = JobLocks(project.store)
    assert other.hold(job.id)
    assert _claim(project, JobLocks(project.store)) == []
    other.let_go(job.id)
    claimed = _claim(project, JobLocks(project.store))
    assert [j.id for j in claimed] == [job.id]


def test_a_claimed_job_is_not_claimed_again(project: Project) -> None:
    request(project)
    first, second = JobLocks(project.store), JobLocks(project.store)
    assert len(_claim(project, first)) == 1
    first.keep_only(set())  # even with its lock free, the state says claimed
    assert _claim(project, second) == []


def test_a_batch_claims_at_most_one_job_per_run(project: Project) -> None:
    uid = planned_run(project, steps=2)
    request(project, uid, 1)
    request(project, uid, 2)
    loose = [request(project), request(project)]
    claimed = _claim(project, JobLocks(project.store), limit=10)
    assert sorted(j.id for j in claimed if j.run is None) == sorted(j.id for j in loose)
    assert [j.step for j in claimed if j.run == uid] == [1]


def test_a_claim_in_the_closing_commit_sees_the_job_requested_there(project: Project) -> None:
    uid = planned_run(project, steps=2)
    first = request(project, uid, 1)
    locks, cache = JobLocks(project.store), OpenJobs()
    worker = new_worker_id(project.store)
    _claim(project, locks, worker=worker)

    def close_and_claim(tx: Tx) -> list[str]:
        queue.record_finish(tx, first, worker)
        queue.request(tx, JobKind.NOOP, run=uid, step=2)
        return [j.step for j in claim_batch(tx, worker, LocalClaims(locks), open_in(tx, cache))]

    assert project.store.transact(close_and_claim) == [2]


def test_a_claim_whose_lock_is_free_is_recovered_with_backoff(project: Project) -> None:
    job = request(project)
    holder = JobLocks(project.store)
    _claim(project, holder)
    policy = RetrySection(max_attempts=3, backoff_base_s=10, backoff_max_s=10)
    scanner = JobLocks(project.store)
    assert recover(project, scanner, project.view().open_jobs(), policy) == []

    holder.keep_only(set())  # the worker is gone: the OS dropped its lock
    recovered = recover(project, scanner, project.view().open_jobs(), policy)
    assert [(j.id, final) for j, final in recovered] == [(job.id, False)]
    again = project.view().open_job(job.id)
    assert again is not None
    assert (again.status, again.lost, again.failures) == (JobStatus.REQUESTED, 1, 0)
    assert again.not_before is not None
    assert again.not_before < datetime.now(UTC) + timedelta(seconds=11)
    assert scanner.held == {}


def test_claims_of_other_clones_or_with_leases_are_left_alone(project: Project) -> None:
    request(project)
    holder = JobLocks(project.store)
    _claim(project, holder, worker="w1-abcdef@elsewhere")
    holder.keep_only(set())
    policy = RetrySection()
    assert recover(project, JobLocks(project.store), project.view().open_jobs(),
                   policy) == []


def test_recovery_after_the_last_attempt_is_final(project: Project) -> None:
    uid = planned_run(project)
    request(project, uid, 1)
    holder = JobLocks(project.store)
    _claim(project, holder)
    holder.keep_only(set())
    project.store.transact(lambda tx: tx.emit(StepStarted(), run=uid, step=1))
    recovered = recover(project, JobLocks(project.store), project.view().open_jobs(),
                        RetrySection(max_lost=1))
    assert [final for _, final in recovered] == [True]
    snap = project.view().run(uid)
    assert snap is not None and snap.jobs[0].status == JobStatus.FAILED


def test_fair_share_splits_what_is_ready_between_workers() -> None:
    assert [fair_share(n, 2, 16) for n in (0, 1, 2, 3, 40)] == [1, 1, 1, 2, 16]


def test_worker_rejects_an_unknown_queue(cli: Callable[..., object], project: Project) -> None:
    result = cli("worker", "--queue", "nope", "--burst", cwd=project.root)
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "unknown job kind 'nope'" in result.output  # type: ignore[attr-defined]


def test_workers_says_when_none_is_running(cli: Callable[..., object], project: Project) -> None:
    request(project)
    request(project)
    _claim(project, JobLocks(project.store))
    result = cli("workers", cwd=project.root)
    assert result.exit_code == 0  # type: ignore[attr-defined]
    assert result.output.splitlines() == [  # type: ignore[attr-defined]
        "no workers running; start some with `dflow worker`",
        "queue: 1 requested, 1 claimed",
    ]
    assert open_project(project.root).store.tip() == project.store.tip()


def test_a_worker_holds_the_lock_of_each_job_it_claimed(project: Project) -> None:
    from deksdenflow.jobs.worker import Worker, WorkerOptions

    jobs = [request(project), request(project)]
    worker = Worker(project, WorkerOptions())
    claimed = worker._claim()
    probe = JobLocks(project.store)
    assert [j.id for j in claimed] == [jobs[0].id]
    assert not probe.is_free(jobs[0].id)  # else a scanner would take it for a dead claim
    assert probe.is_free(jobs[1].id)
    worker.locks.keep_only(set())
    assert probe.is_free(jobs[0].id)
