"""Requesting, claiming and closing jobs. Every change is one transaction on the store."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from ..domain.backoff import delay
from ..domain.config.settings import RetrySection
from ..domain.eventlog.payloads import (
    JobClaimed,
    JobFailed,
    JobFinished,
    JobPayload,
    JobReleased,
    JobRequested,
)
from ..domain.runs.models import Job, JobKind, JobStatus
from ..store import Store, Tx

TxHook = Callable[[Tx], None]


def request(
    tx: Tx,
    kind: JobKind,
    *,
    run: str | None,
    step: int | None = None,
    payload: JobPayload | None = None,
    not_before: datetime | None = None,
) -> Job:
    """Stage a job.requested event; the job's id is that event's id."""
    event = tx.emit(
        JobRequested(kind=kind, payload=payload or JobPayload(), not_before=not_before),
        run=run,
        step=step,
    )
    job = tx.job(event.id, run)
    assert job is not None
    return job


def lane(job: Job) -> tuple[str | None, str]:
    """Jobs of one lane use one worktree, so they run one at a time and in order: a run's
    own lane (plan, integration, ...), or a parallel step's (`payload.lane`, its worktree)."""
    if job.run is None:
        return None, job.id
    return job.run, str(job.payload.get("lane", ""))


def claimable(jobs: Iterable[Job], now: datetime, kinds: set[JobKind] | None = None) -> list[Job]:
    """Requested jobs that may start now: per lane (a run's worktree, or a parallel step's),
    only the oldest open job, and only while no other job of that lane is claimed; at most
    one integration at a time. Runs take turns: each run's first ready job before any run's
    second (docs/decisions/1402-the-integration-queue.md)."""
    by_lane: dict[tuple[str | None, str], list[Job]] = {}
    ordered = sorted(jobs, key=lambda j: j.id)
    for job in ordered:
        by_lane.setdefault(lane(job), []).append(job)
    integrating = any(j.kind == JobKind.INTEGRATE and j.status == JobStatus.CLAIMED
                      for j in ordered)
    ready: list[Job] = []
    for queue in by_lane.values():
        job = queue[0]
        if job.status != JobStatus.REQUESTED or (kinds and job.kind not in kinds):
            continue
        if job.not_before and job.not_before > now:
            continue
        if job.kind == JobKind.INTEGRATE and integrating:
            continue
        ready.append(job)
    return _take_turns(ready)


def _take_turns(ready: list[Job]) -> list[Job]:
    """Oldest first, but round-robin over runs, so one run's many steps do not starve others."""
    seen: dict[str | None, int] = {}
    ranked = []
    for job in sorted(ready, key=lambda j: j.id):
        turn = seen.get(job.run, 0) if job.run is not None else 0
        seen[job.run] = turn + 1
        ranked.append((turn, job.id, job))
    return [job for _, _, job in sorted(ranked, key=lambda r: (r[0], r[1]))]


def claim(
    store: Store,
    worker: str,
    *,
    kinds: set[JobKind] | None = None,
    run: str | None = None,
    lease_s: float | None = None,
    skip: set[str] | None = None,
) -> Job | None:
    """Claim the oldest claimable job (optionally of one run); None when there is none."""

    def pick(tx: Tx) -> Job | None:
        now = datetime.now(UTC)
        jobs = [j for j in tx.view.open_jobs() if run is None or j.run == run]
        for job in claimable(jobs, now, kinds):
            if skip and job.id in skip:
                continue
            lease = now + timedelta(seconds=lease_s) if lease_s else None
            tx.emit(JobClaimed(job=job.id, worker=worker, lease_until=lease),
                    run=job.run, step=job.step)
            return tx.job(job.id, job.run)
        return None

    return store.transact(pick)


def finish(store: Store, job: Job, worker: str, hook: TxHook | None = None) -> None:
    """Close a job and record its results (the hook's events) in the same commit."""
    store.transact(lambda tx: record_finish(tx, job, worker, hook))


def record_finish(tx: Tx, job: Job, worker: str, hook: TxHook | None = None) -> None:
    """Stage the hook's events and the job.finished event."""
    if hook is not None:
        hook(tx)
    tx.emit(JobFinished(job=job.id, worker=worker), run=job.run, step=job.step)


def backoff(failures: int, policy: RetrySection, rng: random.Random | None = None) -> float:
    """The delay before the next attempt, per the policy (domain/backoff.py owns the rule)."""
    return delay(failures, policy.backoff_base_s, policy.backoff_max_s, rng)


def fail(
    store: Store,
    job: Job,
    worker: str,
    error: str,
    policy: RetrySection,
    hook: Callable[[Tx, bool], None] | None = None,
) -> bool:
    """Record a failed attempt; retry later with backoff until the policy's limit.

    Returns True when the failure was final. `hook(tx, final)` records what the failure
    means for the run (a step.failed, say) in the same commit."""
    return store.transact(lambda tx: record_failure(tx, job, worker, error, policy, hook))


def record_failure(
    tx: Tx,
    job: Job,
    worker: str,
    error: str,
    policy: RetrySection,
    hook: Callable[[Tx, bool], None] | None = None,
    final: bool = False,
    lost: bool = False,
) -> bool:
    """Stage a job.failed (final once the policy's attempts are used up, or at once when
    `final`); True when final. The policy is the job's step type's (`retry.work`, ...) over
    [retry]'s. A `lost` attempt (its worker died, its lease expired) is an
    infrastructure loss, counted apart with its own higher limit (`retry.max_lost`)."""
    current = tx.job(job.id, job.run) or job
    policy = policy.for_type(retry_type(tx, job))
    if lost:
        final = final or current.lost + 1 >= policy.max_lost
    else:
        final = final or current.failures + 1 >= policy.max_attempts
    retry_at = None
    if not final:
        delay = backoff((current.lost if lost else current.failures) + 1, policy)
        retry_at = datetime.now(UTC) + timedelta(seconds=delay)
    if hook is not None:
        hook(tx, final)
    tx.emit(JobFailed(job=job.id, worker=worker, error=error[:2000], final=final,
                      retry_at=retry_at, lost=lost), run=job.run, step=job.step)
    return final


def retry_type(tx: Tx, job: Job) -> str | None:
    """Which per-type policy a job's failures follow: its step's type for an execute job,
    `fix_ci` for a fix-CI job, none ([retry] itself) for the rest (decision 1222)."""
    if job.kind == JobKind.FIX_CI:
        return "fix_ci"
    if job.kind != JobKind.EXECUTE or job.run is None or job.step is None:
        return None
    step = tx.run(job.run).step(job.step)
    return step.type.value if step is not None else None


def release(store: Store, job: Job, worker: str) -> None:
    """Give a claimed job back untouched (a graceful stop), so another worker can take it."""
    store.transact(lambda tx: tx.emit(JobReleased(job=job.id, worker=worker),
                                      run=job.run, step=job.step))
