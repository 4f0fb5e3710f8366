"""One worker process: claim, run, record — with group commits and a graceful stop.

The loop keeps the state ref from becoming the bottleneck: reads happen off the store lock
(a parsed-jobs cache keyed by blob id), the commit that closes a job also claims the next
one, and while jobs are fast a worker claims (and closes) several in one commit. See
docs/decisions/0301-group-commit-in-the-worker.md.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from types import FrameType

from pydantic import BaseModel, Field

from ..context.project import Project
from ..domain.eventlog.payloads import JobReleased
from ..domain.runs.models import Job, JobKind, JobStatus
from ..errors import DflowError, IllegalTransition
from ..store import StateView, Tx
from ..store.encoding.open_jobs import OpenJobs
from . import liveness, recovery, runner
from .claims import (
    LocalClaims,
    claim_batch,
    fair_share,
    has_work,
    next_wakeup,
    open_in,
    trust_hold,
)
from .queue import claimable
from .workers import WorkerRecord

FAST_JOB_S = 0.05  # jobs quicker than this on average are claimed and closed in batches
SCAN_S = 1.0  # how often a worker looks for claims of dead workers
IDLE_POLL_MAX_S = 0.2  # the slowest an idle worker polls the ref's tip


class GraceExpired(BaseException):
    """Raised inside a running job when the stop grace period is over."""


class Transition(BaseModel):
    """One line of the worker's log: a job changed hands or state."""

    at: datetime
    worker: str
    event: str
    job: str | None = None
    kind: str | None = None
    run: str | None = None
    run_id: str | None = Field(default=None, description="NNNN-name, as users see the run")
    step: int | None = None
    attempt: int | None = None
    project: str = ""
    detail: str = ""


@dataclass
class WorkerOptions:
    kinds: set[JobKind] | None = None
    burst: bool = False
    pool_size: int = 1
    batch_cap: int = 16
    poll_s: float = 0.02
    grace_s: float | None = None  # None: settings.worker.grace_s
    parent_pid: int | None = None  # stop when this process goes away


@dataclass
class _Flight:
    """Jobs claimed by this worker and not yet closed."""

    queued: list[Job] = field(default_factory=list)
    done: list[runner.Attempt] = field(default_factory=list)
    interrupted: Job | None = None


class Worker:
    def __init__(
        self, project: Project, options: WorkerOptions,
        on_transition: Callable[[Transition], None] | None = None,
    ) -> None:
        self.project = project
        self.store = project.store
        self.options = options
        self.id = liveness.new_worker_id(self.store)
        self.locks = liveness.JobLocks(self.store)
        # Where the state is shared through a remote, claims go through it (decision 1520).
        self.shared = project.parts.shared_claims(project, self.id, self.locks.held.__contains__)
        self.strategy = LocalClaims(self.locks, self.shared.lease_until if self.shared else None)
        self.open = OpenJobs()
        self.record = WorkerRecord(self.store, self.id)
        settings = project.settings()
        self.policy = settings.retry
        self.grace_s = options.grace_s if options.grace_s is not None else settings.worker.grace_s
        self.on_transition = on_transition or (lambda t: None)
        self.flight = _Flight()
        self.stopping = False
        self.running = False
        self.done_count = 0
        self._avg_s: float | None = None
        self._last_scan = 0.0
        self._nap = options.poll_s
        # claim the next job in the commit that closes one (not through a remote: a claim
        # is won there first)
        self.prefetch = self.shared is None
        self.offline = False
        self._run_ids: dict[str, str] = {}

    # --- the loop ---------------------------------------------------------------------------

    def serve(self) -> int:
        """Work until stopped (or, with `burst`, until no work is left); jobs closed."""
        self._install_signals()
        self.record.open()
        self._log("started", detail=f"pid {os.getpid()}")
        self._undo_killed_creations()
        try:
            while not self._should_stop():
                if not self.flight.queued:
                    self.flight.queued = self._claim()
                    if not self.flight.queued and self._idle():
                        break
                    continue
                self._run_batch()
        finally:
            self._shutdown()
        return self.done_count

    def work_once(self) -> bool:
        """Claim and run one job (one batch when jobs are fast); False when none was ready.
        For a pool that serves several projects in turn (jobs/projects.py)."""
        if not self.flight.queued:
            self.flight.queued = self._claim()
        if not self.flight.queued:
            return False
        self._run_batch()
        return True

    def drained(self) -> bool:
        """Nothing left to do (after recovering dead claims), as `--burst` means it."""
        view = self.store.read()
        jobs = self.open.of(view)
        if self._scan(jobs, force=self.options.burst):
            return False
        return not self._more_may_come(jobs, view)

    def _should_stop(self) -> bool:
        parent = self.options.parent_pid
        if parent is not None and os.getppid() != parent and not self.stopping:
            self.stopping = True
            self._log("stopping", detail="the pool process is gone")
        return self.stopping

    @property
    def is_fast(self) -> bool:
        return self._avg_s is not None and self._avg_s < FAST_JOB_S

    def _claim(self) -> list[Job]:
        if self.shared is not None:
            claimed = self._claim_shared()
            if claimed is not None:
                self._claimed(claimed)
                return claimed
        limit = self._prelock(self.options.batch_cap if self.is_fast and self.prefetch else 1)
        if limit == 0:
            return []
        claimed = self.store.transact(lambda tx: self._claim_in(tx, limit))
        self._claimed(claimed)
        return claimed

    def _claim_shared(self) -> list[Job] | None:
        """Claim through the remote; None when it is out of reach (then claim locally)."""
        assert self.shared is not None
        shared = self.shared
        cap = self.options.batch_cap if self.is_fast else 1

        def pick(found: list[Job]) -> list[Job]:
            hold = trust_hold(self.project, self.store.read())  # jobs this machine may not run
            found = [j for j in found if (not self.options.kinds or j.kind in self.options.kinds)
                     and not (hold is not None and hold(j))]
            limit = fair_share(len(found), self.options.pool_size, cap)
            return [j for j in found if self.locks.hold(j.id)][:limit]

        def record(won: set[str]) -> list[Job]:
            def body(tx: Tx) -> list[Job]:
                shared.take_over(tx, open_in(tx, self.open), won)
                return claim_batch(tx, self.id, self.strategy, open_in(tx, self.open),
                                   kinds=self.options.kinds, limit=len(won), only=won,
                                   begin=partial(runner.on_claim, self.project),
                                   held=trust_hold(self.project, tx.view))
            return self.store.transact(body)

        claimed = shared.claim(pick, record)
        if (claimed is None) != self.offline:
            self.offline = claimed is None
            self._log("offline" if self.offline else "online", detail=(
                "the remote is out of reach: claiming locally until it answers"
                if self.offline else "claiming through the remote again"))
        if claimed is not None and not claimed:
            self._prune_locks()
        return claimed

    def _prelock(self, cap: int) -> int:
        """Take the locks of the jobs to claim next before taking the store lock (file
        creation is slow; other workers skip these and pick others); how many to claim."""
        ready = claimable(self.open.of(self.store.read()), datetime.now(UTC), self.options.kinds)
        limit = fair_share(len(ready), self.options.pool_size, cap) if ready else 0
        taken = 0
        for job in ready:
            if taken >= limit:
                break
            taken += self.locks.hold(job.id)
        return limit

    def _claim_in(self, tx: Tx, limit: int) -> list[Job]:
        return claim_batch(tx, self.id, self.strategy, open_in(tx, self.open),
                           kinds=self.options.kinds, limit=limit,
                           begin=partial(runner.on_claim, self.project),
                           held=trust_hold(self.project, tx.view))

    def _claimed(self, claimed: list[Job]) -> None:
        self._prune_locks(claimed)
        for job in claimed:
            self._log("claimed", job)

    def _prune_locks(self, claimed: list[Job] | None = None) -> None:
        """Hold locks only for jobs claimed and not closed: a lost compare-and-swap re-runs
        the claim, and a failed commit claims nothing, but both may have taken locks."""
        keep = {j.id for j in [*self.flight.queued, *(claimed or [])]}
        keep.update(a.job.id for a in self.flight.done)
        if self.flight.interrupted is not None:
            keep.add(self.flight.interrupted.id)
        self.locks.keep_only(keep)

    def _idle(self) -> bool:
        """Nothing claimable now: recover dead claims, then wait. True: leave the loop."""
        view = self.store.read()
        jobs = self.open.of(view)
        if self._scan(jobs, force=self.options.burst):
            return False
        if self.options.burst and not self._more_may_come(jobs, view):
            return True
        wait = next_wakeup(jobs, self.options.kinds, datetime.now(UTC),
                           trust_hold(self.project, view))
        self._wait_for_change(view.tip, min(wait if wait is not None else 1.0, 1.0))
        return False

    def _more_may_come(self, jobs: list[Job], view: StateView) -> bool:
        """Work is requested that this machine may run, or a job of this clone is running
        whose result may request more (a parallel run's next steps): a `--burst` worker stays
        until neither holds."""
        return has_work(jobs, self.options.kinds, trust_hold(self.project, view)) or any(
            j.status == JobStatus.CLAIMED and liveness.is_local_worker(j.claimed_by, self.store)
            for j in jobs)

    def _wait_for_change(self, tip: str | None, max_s: float) -> None:
        """Poll the ref's tip (a file read): quickly after activity, slower while idle."""
        deadline = time.monotonic() + max_s
        while time.monotonic() < deadline and not self._should_stop():
            time.sleep(self._nap)
            if self.store.tip() != tip:
                self._nap = self.options.poll_s
                return
            self._nap = min(self._nap * 1.5, IDLE_POLL_MAX_S)

    def _scan(self, jobs: list[Job], force: bool = False) -> bool:
        now = time.monotonic()
        if not force and now - self._last_scan < SCAN_S:
            return False
        self._last_scan = now
        self._undo_killed_creations()
        recovered = recovery.recover(self.project, self.locks, jobs, self.policy)
        for job, final in recovered:
            what = "failed for good" if final else "will be retried"
            self._log("recovered", job, f"its worker {job.claimed_by} died; {what}")
        return bool(recovered)

    def _undo_killed_creations(self) -> None:
        """A `dflow new` killed while this pool runs: remove its branch and worktree if its
        run was never recorded (docs/decisions/0831-a-killed-new-is-undone.md)."""
        for branch in self.project.parts.undo_killed_creations(self.project):
            self._log("recovered", detail=f"removed branch and worktree {branch} of a killed "
                      "dflow new (its run was never recorded)")

    # --- running ----------------------------------------------------------------------------

    def _run_batch(self) -> None:
        flight = self.flight
        try:
            if flight.queued and self.is_fast:
                self.record.busy(flight.queued[0])  # fast jobs: one record update per batch
            while flight.queued and not self.stopping:
                job = flight.queued[0]
                flight.done.append(self._attempt(job, announce=not self.is_fast))
                flight.queued.pop(0)
        except GraceExpired:
            flight.interrupted = flight.queued.pop(0)
        finally:
            self._close_done(claim_next=self.prefetch and not self.stopping)

    def _attempt(self, job: Job, announce: bool) -> runner.Attempt:
        if announce:
            self.record.busy(job)
        started = time.monotonic()
        self.running = True
        try:
            done = runner.attempt(self.project, job, self.id)
        except GraceExpired:
            raise
        except Exception as exc:  # a bug in a handler must cost one attempt, not the worker
            done = runner.Attempt(job, error=f"internal error: {type(exc).__name__}: {exc}")
        finally:
            self.running = False
        took = time.monotonic() - started
        self._avg_s = took if self._avg_s is None else 0.7 * self._avg_s + 0.3 * took
        return done

    def _close_done(self, claim_next: bool) -> None:
        """Record every finished attempt (and claim what comes next) in one commit."""
        done, self.flight.done = self.flight.done, []
        if not done:
            return
        limit = self._prelock(self.options.batch_cap) if claim_next and self.is_fast else 1
        try:
            outcomes, claimed = self.store.transact(
                lambda tx: self._close_in(tx, done, limit if claim_next else 0))
        except Exception:  # a handler's hook no longer applies, or has a bug: close each alone
            outcomes, claimed = self._close_one_by_one(done), []
        if self.shared is not None:
            self.shared.closed([attempt.job for attempt in done])
        self.record.idle()
        for outcome in outcomes:
            self._log_outcome(outcome)
        self.flight.queued.extend(claimed)
        self._claimed(claimed)

    def _close_in(
        self, tx: Tx, done: list[runner.Attempt], limit: int
    ) -> tuple[list[runner.Outcome], list[Job]]:
        outcomes = [runner.record(tx, attempt, self.id, self.policy,
                                  self.project.parts.handler(attempt.job.kind))
                    for attempt in done]
        claimed: list[Job] = []
        if limit > 0:  # after the reconciler: the jobs these closes call for are claimable
            tx.defer(lambda tx: claimed.extend(self._claim_in(tx, max(limit, 1))))
        return outcomes, claimed

    def _close_one_by_one(self, done: list[runner.Attempt]) -> list[runner.Outcome]:
        outcomes = []
        for attempt in done:
            try:
                outcomes.append(self._close_alone(attempt))
            except Exception as exc:  # noqa: BLE001 - recorded as the job's failure below
                failed = runner.Attempt(attempt.job, error=f"could not record the result: {exc}")
                try:
                    outcomes.append(self._close_alone(failed))
                except DflowError as again:
                    self._log("lost", attempt.job, f"could not close the job: {again}")
        return outcomes

    def _close_alone(self, done: runner.Attempt) -> runner.Outcome:
        return self.store.transact(
            partial(runner.record, done=done, worker=self.id, policy=self.policy,
                    handler=self.project.parts.handler(done.job.kind)))

    # --- stopping ---------------------------------------------------------------------------

    def _shutdown(self) -> None:
        """Give back every claimed job not closed (the interrupted one, prefetched ones)."""
        self._close_done(claim_next=False)
        back = ([self.flight.interrupted] if self.flight.interrupted else []) + self.flight.queued
        if back:
            try:
                self.store.transact(lambda tx: self._release_in(tx, back))
                if self.shared is not None:
                    self.shared.closed(back)
                for job in back:
                    self._log("released", job)
            except DflowError as exc:
                self._log("stopping", detail=f"could not release jobs ({exc}); they are "
                          "recovered once this process is gone")
        self.flight = _Flight()
        self._prune_locks()
        if self.shared is not None:
            self.shared.stop()
        self.record.close()
        self._log("stopped", detail=f"{self.done_count} jobs")

    def _release_in(self, tx: Tx, jobs: list[Job]) -> None:
        for job in jobs:
            if job is self.flight.interrupted:
                handler = self.project.parts.handler(job.kind)
                # the handler may not have recorded a start yet: nothing to undo then
                with contextlib.suppress(IllegalTransition):
                    if handler is not None:
                        handler.on_failure(tx, job, "interrupted: the worker was stopped", False)
            tx.emit(JobReleased(job=job.id, worker=self.id), run=job.run, step=job.step)

    def _install_signals(self) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the pool process owns Ctrl-C
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGALRM, self._on_grace_over)

    def _on_term(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:  # a second SIGTERM: do not wait for the grace period
            self._on_grace_over(signum, frame)
            return
        self.stopping = True
        if self.running:
            signal.setitimer(signal.ITIMER_REAL, max(self.grace_s, 0.001))

    def _on_grace_over(self, signum: int, frame: FrameType | None) -> None:
        if self.running:
            self.running = False
            raise GraceExpired()

    # --- log --------------------------------------------------------------------------------

    def _log_outcome(self, outcome: runner.Outcome) -> None:
        self.done_count += 1
        if outcome.ok:
            self._log("finished", outcome.job)
        elif outcome.final:
            self._log("failed", outcome.job, outcome.error)
        else:
            self._log("retry", outcome.job, outcome.error)

    def _log(self, event: str, job: Job | None = None, detail: str = "") -> None:
        self.on_transition(Transition(
            at=datetime.now(UTC), worker=self.id, event=event,
            job=job.id if job else None, kind=job.kind.value if job else None,
            run=job.run if job else None, run_id=self._run_id(job), step=job.step if job else None,
            attempt=job.attempts if job else None, project=self.project.root.name,
            detail=detail,
        ))

    def _run_id(self, job: Job | None) -> str | None:
        """NNNN-name of the job's run (cached per uid; a renumbered run shows its new number
        from the next worker on)."""
        if job is None or job.run is None:
            return None
        if job.run not in self._run_ids:
            snap = self.store.read().run(job.run)
            self._run_ids[job.run] = snap.run.id if snap else job.run
        return self._run_ids[job.run]
