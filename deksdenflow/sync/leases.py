"""Remote workers (`dflow worker --remote NAME`): claims published by pushing the state ref,
proved alive by a time-bounded lease instead of a local file lock.

A claim is a `job.claimed` with `lease_until`, pushed like any state change. Two workers
that claim one job on two machines both push; the merge folds both claims and the earlier
by (lamport, id) wins, so the loser sees someone else's name on the job after its sync and
simply looks for other work. A job whose lease ran out counts a lost attempt (retried with
backoff, up to `retry.max_lost`), which makes it claimable again.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from ..context.parts import JobHandler
from ..context.project import Project
from ..domain.models import Job, JobKind, JobStatus
from ..domain.settings import RetrySection
from ..errors import IllegalTransition
from ..jobs import queue, runner
from ..jobs.claims import claim_batch, open_in, trust_hold
from ..store import Tx
from ..store.open_jobs import OpenJobs
from . import service

CLAIM_TRIES = 5
BURST_MAX_WAIT_S = 600.0  # a backoff longer than this is left to the next burst


class LeaseClaims:
    """The ClaimStrategy of a remote worker: no local lock, a lease in the claim."""

    def __init__(self, lease_s: float) -> None:
        self.lease_s = lease_s

    def hold(self, job: Job) -> bool:
        return True

    def lease_until(self, job: Job) -> datetime | None:
        return datetime.now(UTC) + timedelta(seconds=self.lease_s)

    def let_go(self, job: Job) -> None:
        return None


class RemoteOutcome(BaseModel):
    job: str
    kind: str
    ok: bool
    error: str = ""


def expire_leases(project: Project, tx: Tx, jobs: list[Job], policy: RetrySection,
                  now: datetime) -> list[Job]:
    """Count a lost attempt for each claim whose lease ran out: its worker is gone, which is
    an infrastructure loss charged to `retry.max_lost`, not an agent failure (decision 0801)."""
    expired = []
    for job in jobs:
        if job.status != JobStatus.CLAIMED or job.lease_until is None or job.lease_until > now:
            continue
        handler = project.parts.handler(job.kind)
        error = f"the lease of {job.claimed_by} ran out at {job.lease_until.isoformat()}"

        def failed(tx: Tx, final: bool, job: Job = job, error: str = error,
                   handler: JobHandler | None = handler) -> None:
            if handler is not None:
                # the worker may have died before the handler recorded its start
                with contextlib.suppress(IllegalTransition):
                    handler.on_failure(tx, job, error, final)

        queue.record_failure(tx, job, job.claimed_by or "", error, policy, failed, lost=True)
        expired.append(job)
    return expired


def claim(project: Project, remote: str, worker: str, *, kinds: set[JobKind] | None = None,
          lease_s: float | None = None) -> Job | None:
    """Claim one job and publish the claim on the remote; None when there is nothing to do.
    A claim lost to another machine is retried against the merged state."""
    settings = project.settings()
    strategy = LeaseClaims(lease_s or settings.worker.lease_s)
    cache = OpenJobs()
    for _ in range(CLAIM_TRIES):
        service.sync(project, remote)

        def pick(tx: Tx) -> list[Job]:
            jobs = open_in(tx, cache)
            expire_leases(project, tx, jobs, settings.retry, datetime.now(UTC))
            return claim_batch(tx, worker, strategy, open_in(tx, cache), kinds=kinds, limit=1,
                               held=trust_hold(project, tx.view))

        claimed = project.store.transact(pick)
        if not claimed:
            service.sync(project, remote)  # share expired leases, if any were recorded
            return None
        service.sync(project, remote)
        if _holds(project, claimed[0], worker):
            return claimed[0]
    return None


def _holds(project: Project, job: Job, worker: str) -> bool:
    snap = project.view().run(job.run) if job.run else None
    now = snap.job(job.id) if snap is not None else project.view().open_job(job.id)
    return now is not None and now.status == JobStatus.CLAIMED and now.claimed_by == worker


def work(project: Project, remote: str, worker: str, *, kinds: set[JobKind] | None = None,
         burst: bool = True, poll_s: float = 10.0,
         sink: Callable[[RemoteOutcome], None] | None = None) -> int:
    """Claim, run and record jobs through the remote until none is left (or forever)."""
    done = 0
    while True:
        looked = datetime.now(UTC)
        job = claim(project, remote, worker, kinds=kinds)
        if job is None:
            wait = backoff_left(project, kinds, looked) if burst else poll_s
            if wait is None or wait > BURST_MAX_WAIT_S:
                return done  # --burst: nothing it may take now or after its backoff
            time.sleep(max(wait, 0.05))
            continue
        outcome = run_one(project, remote, job, worker)
        done += 1
        if sink is not None:
            sink(outcome)


def backoff_left(project: Project, kinds: set[JobKind] | None,
                 looked: datetime) -> float | None:
    """Seconds until the earliest requested job of these kinds is out of its retry backoff
    (a lost lease's retry, say: 0 when that happened since the claim `looked`); None when
    none waits. A `--burst` worker waits that long rather than leave work it could take
    (decision 1503). A job that was claimable when it looked, and not taken, is not waited
    for."""
    now = datetime.now(UTC)
    waits = [max(0.0, (j.not_before - now).total_seconds()) for j in project.view().open_jobs()
             if j.status == JobStatus.REQUESTED and j.not_before is not None
             and j.not_before > looked and (not kinds or j.kind in kinds)]
    return min(waits) if waits else None


def run_one(project: Project, remote: str, job: Job, worker: str) -> RemoteOutcome:
    attempt = runner.attempt(project, job, worker)
    policy = project.settings().retry
    try:
        project.store.transact(lambda tx: runner.record(
            tx, attempt, worker, policy, project.parts.handler(job.kind)))
    except IllegalTransition as exc:
        # The lease ran out and another worker took the job: our result does not count.
        return RemoteOutcome(job=job.id, kind=job.kind.value, ok=False,
                             error=f"lost the job: {exc}")
    service.sync(project, remote)
    return RemoteOutcome(job=job.id, kind=job.kind.value, ok=attempt.ok,
                         error=attempt.error or "")
