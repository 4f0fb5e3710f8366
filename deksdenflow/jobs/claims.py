"""How a worker claims jobs: which ones, in one commit, holding what proves it is alive.

`ClaimStrategy` is the seam between the claim logic and liveness: a local worker holds an OS
file lock per job (`LocalClaims`); a remote worker (a CI runner, see the sync area) records a
time-bounded lease instead and implements the same three methods.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from ..domain.decisions.reconcile import job_blocker
from ..domain.eventlog.payloads import JobCancelled, JobClaimed
from ..domain.runs.models import Job, JobKind, JobStatus
from ..errors import IllegalTransition
from ..store import Tx
from ..store.encoding.open_jobs import OpenJobs
from . import liveness
from .liveness import JobLocks
from .queue import claimable

if TYPE_CHECKING:
    from ..context.project import Project
    from ..store import StateView

Held = Callable[[Job], bool]


class ClaimStrategy(Protocol):
    def hold(self, job: Job) -> bool:
        """Take what makes a claim ours *before* the claim is visible; False: someone has it."""
        ...

    def lease_until(self, job: Job) -> datetime | None:
        """Until when the claim holds (a remote worker's lease), or None (a local lock)."""
        ...

    def let_go(self, job: Job) -> None:
        """Give back what `hold` took, once the job's closing commit is published."""
        ...


class LocalClaims:
    """Claims proved alive by a per-job OS file lock in the git dir (and, where the state is
    shared through a remote, by the lease of the claim ref for other clones)."""

    def __init__(self, locks: JobLocks,
                 lease: Callable[[], datetime] | None = None) -> None:
        self.locks = locks
        self.lease = lease  # claims shared through a remote carry a lease for other clones

    def hold(self, job: Job) -> bool:
        return self.locks.hold(job.id)

    def lease_until(self, job: Job) -> datetime | None:
        return self.lease() if self.lease is not None else None

    def let_go(self, job: Job) -> None:
        self.locks.let_go(job.id)


def open_in(tx: Tx, cache: OpenJobs) -> list[Job]:
    """The open jobs as `tx` leaves them so far: the tip's, updated by what `tx` staged."""
    jobs = {j.id: j for j in cache.of(tx.view)}
    for job_id, job in tx.staged_jobs().items():
        if job.is_open:
            jobs[job_id] = job
        else:
            jobs.pop(job_id, None)
    return sorted(jobs.values(), key=lambda j: j.id)


def claim_batch(
    tx: Tx,
    worker: str,
    strategy: ClaimStrategy,
    jobs: list[Job],
    *,
    kinds: set[JobKind] | None = None,
    limit: int = 1,
    begin: Callable[[Tx, Job], None] | None = None,
    held: Held | None = None,
    only: set[str] | None = None,
) -> list[Job]:
    """Claim up to `limit` claimable jobs in this transaction (group commit); `begin(tx, job)`
    stages what starting each one records (a step's start), in the same commit. `only`: of
    these job ids alone (those whose claim ref this worker got on the remote).

    `jobs` must be the open jobs as `tx` sees them (`open_in`): under the store lock, the tip.
    A job `held` says this machine may not run (`trust_hold`) is left for others."""
    claimed: list[Job] = []
    room = AgentRoom(tx, jobs)
    for job in claimable(jobs, datetime.now(UTC), kinds):
        if len(claimed) >= limit:
            break
        if (held is not None and held(job)) or (only is not None and job.id not in only):
            continue
        # Only a job about to be claimed costs its run's snapshot (a claim's hot path).
        if job.run is not None and instead_of(job, tx.run(job.run).jobs) is not None:
            _cancel(tx, job)  # two clones asked for one slot while apart: one runs
            continue
        if not room.fits(job) or not strategy.hold(job):
            continue
        try:
            tx.emit(JobClaimed(job=job.id, worker=worker, lease_until=strategy.lease_until(job)),
                    run=job.run, step=job.step)
        except IllegalTransition:
            strategy.let_go(job)
            continue
        room.use(job)
        if begin is not None:
            begin(tx, job)
        now = tx.job(job.id, job.run)
        assert now is not None
        claimed.append(now)
    return claimed


def instead_of(job: Job, peers: Iterable[Job]) -> Job | None:
    """The job that runs instead of `job` for one slot (run, kind, step) when both were
    asked for while neither had ended: two clones that asked while apart each made one, and
    their merge keeps both. The one already claimed (or done) runs; else the first asked
    (the lowest id, so every clone agrees). None: `job` is the one to run. A job asked for
    after another ended (a retry, a second QA) is not a twin; nor is one that replaced a
    cancelled job."""
    if job.run is None:
        return None
    twins = [p for p in peers if p.id != job.id and p.run == job.run and p.kind == job.kind
             and p.step == job.step and p.status != JobStatus.CANCELLED
             and (p.is_open or _asked_before_it_ended(job, p))]
    started = [p for p in twins if p.status != JobStatus.REQUESTED]
    if started:
        return started[0]
    first = min(twins, key=lambda p: p.id, default=None)
    return first if first is not None and first.id < job.id else None


def _asked_before_it_ended(job: Job, ended: Job) -> bool:
    return (job.requested_at is not None and ended.updated_at is not None
            and job.requested_at < ended.updated_at)


def _cancel(tx: Tx, job: Job) -> None:
    with contextlib.suppress(IllegalTransition):  # already closed in this transaction
        tx.emit(JobCancelled(job=job.id), run=job.run, step=job.step)


AGENT_KINDS = frozenset({JobKind.PLAN, JobKind.EXECUTE, JobKind.QA, JobKind.FIX_CI,
                         JobKind.FIX_REVIEW})


class AgentRoom:
    """`[limits] max_agents`: agent jobs claimed at once on this host, over every pool and
    project view that shares this state ref (a WIP limit; 0: no limit beyond the pools')."""

    def __init__(self, tx: Tx, jobs: list[Job]) -> None:
        self.tx, self.jobs = tx, jobs
        self.left: int | None = None

    def fits(self, job: Job) -> bool:
        if job.kind not in AGENT_KINDS:
            return True
        if self.left is None:
            cap = self.tx.view.settings().limits.max_agents
            here = f"@{liveness.host()}"
            running = sum(1 for j in self.jobs if j.status == JobStatus.CLAIMED
                          and j.kind in AGENT_KINDS and (j.claimed_by or "").endswith(here))
            self.left = cap - running if cap > 0 else 1 << 30
        return self.left > 0

    def use(self, job: Job) -> None:
        if job.kind in AGENT_KINDS and self.left is not None:
            self.left -= 1


def fair_share(ready: int, pool_size: int, cap: int) -> int:
    """How many jobs one worker claims at once: its share of what is ready, at most `cap`."""
    return max(1, min(cap, math.ceil(ready / max(pool_size, 1))))


def has_work(jobs: Iterable[Job], kinds: set[JobKind] | None, held: Held | None = None) -> bool:
    """Is any job of interest requested (now or after its backoff) that this machine may run?"""
    return any(j.status == JobStatus.REQUESTED and (not kinds or j.kind in kinds)
               and not (held is not None and held(j)) for j in jobs)


def trust_hold(project: Project, view: StateView) -> Held | None:
    """The jobs this machine may not run until a person here trusts the settings they would
    use (`dflow trust`, docs/decisions/1510); None when every setting is trusted. The wait
    they show is the reconciler's (domain/reconcile.trust_wait): the same question."""

    settings = project.settings(view)
    untrusted = settings.untrusted()
    if not untrusted:
        return None

    def held(job: Job) -> bool:
        snap = view.run(job.run) if job.run else None
        run_engine = snap.run.engine or "" if snap is not None else ""
        chosen = str(job.payload.get("engine") or "")
        return job_blocker(untrusted, settings, job.kind.value, run_engine, chosen) is not None

    return held


def next_wakeup(jobs: Iterable[Job], kinds: set[JobKind] | None, now: datetime,
                held: Held | None = None) -> float | None:
    """Seconds until the earliest delayed job of interest is due; None when none waits. A
    job this machine may not run (`held`) is no reason to wake up: it waits for a person."""
    waits = [
        (j.not_before - now).total_seconds()
        for j in jobs
        if j.status == JobStatus.REQUESTED and j.not_before is not None
        and (not kinds or j.kind in kinds) and not (held is not None and held(j))
    ]
    return max(min(waits), 0.0) if waits else None
