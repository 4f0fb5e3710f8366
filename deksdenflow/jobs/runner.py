"""Running one job through its kind's handler — the same code in-process and in the pool."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..context import tracing
from ..context.parts import JobHandler
from ..context.project import Project
from ..domain import correlation
from ..domain.agents.redaction import redact, secret_values, strip_controls
from ..domain.config.settings import RetrySection
from ..domain.runs.models import Job, JobKind, JobStatus, RunSnapshot
from ..errors import DflowError
from ..store import Tx
from ..store.encoding.open_jobs import OpenJobs
from . import queue
from .claims import LocalClaims, claim_batch, open_in, trust_hold
from .liveness import JobLocks
from .queue import TxHook


class Noop:
    """A job that does nothing: what the pool benchmark measures."""

    def run(self, project: Project, job: Job, worker: str) -> None:
        return None

    def on_failure(self, tx: Tx, job: Job, error: str, final: bool) -> None:
        return None


def worker_id(prefix: str = "w") -> str:
    return f"{prefix}{os.getpid()}@{socket.gethostname()}"


@dataclass
class Outcome:
    job: Job
    ok: bool
    error: str = ""
    final: bool = False
    after: Any = None


@dataclass
class Attempt:
    """What running a job's handler produced, before it is recorded."""

    job: Job
    hook: TxHook | None = None
    error: str | None = None
    permanent: bool = False  # retrying cannot help: the step waits for a person at once

    @property
    def ok(self) -> bool:
        return self.error is None


def attempt(project: Project, job: Job, worker: str) -> Attempt:
    """Run the job's handler (outside the state lock); a DflowError is a failed attempt."""
    handler = project.parts.handler(job.kind)
    if handler is None:
        return Attempt(job, error=f"no handler for job kind '{job.kind.value}' in this dflow")
    try:
        with correlation.bound(**job_ids(project, job, worker)), \
                tracing.span(f"dflow.job {job.kind.value}", kind=job.kind.value):
            return Attempt(job, hook=handler.run(project, job, worker))
    except DflowError as exc:
        return Attempt(job, error=safe_error(project, str(exc) or type(exc).__name__),
                       permanent=exc.permanent)


def on_claim(project: Project, tx: Tx, job: Job) -> None:
    """What the job's handler records in the commit that claims it (a step's start), so the
    claim and the start are one commit. Anything it refuses is left to the handler's `run`,
    which meets it again and fails the attempt as before."""
    hook = getattr(project.parts.handler(job.kind), "on_claim", None)
    if hook is None:
        return
    with contextlib.suppress(DflowError):  # its one strict event is staged whole or not at all
        hook(project, tx, job)


def safe_error(project: Project, text: str) -> str:
    """A job's error may quote agent or engine output: secrets masked and control sequences
    removed here, before it is printed (`run --wait`, `worker`) or stored (decision 0700)."""
    try:
        names = project.settings().secret_env_names()
    except DflowError:
        names = []
    return strip_controls(redact(text, secret_values(names)))


def job_ids(project: Project, job: Job, worker: str) -> dict[str, object]:
    """The correlation ids of a job: the run's id as users see it (NNNN-name), never only
    the job's internal id."""
    snap = project.view().run(job.run) if job.run else None
    return {"project": project.root.name, "run": snap.run.id if snap else job.run,
            "step": job.step, "job": job.id, "attempt": attempt_number(snap, job),
            "worker": worker}


def attempt_number(snap: RunSnapshot | None, job: Job) -> int:
    """The attempt as `dflow logs` numbers its transcript: an execute job's is the step's
    (its start is recorded when it is claimed; a step retried after QA is a new job whose
    own count starts again at 1); any other job's is the job's."""
    step = snap.step(job.step) if snap is not None and job.step is not None else None
    if job.kind == JobKind.EXECUTE and step is not None and step.attempts:
        return step.attempts
    return job.attempts


def record(tx: Tx, done: Attempt, worker: str, policy: RetrySection,
           handler: JobHandler | None) -> Outcome:
    """Stage finished (with the handler's results) or failed (with retry per the policy)."""
    job = done.job
    if done.error is None:
        queue.record_finish(tx, job, worker, done.hook)
        return Outcome(job, True)
    error = done.error

    def failed(tx: Tx, final: bool) -> None:
        if handler is not None:
            handler.on_failure(tx, job, error, final)

    final = queue.record_failure(tx, job, worker, error, policy, failed,
                                 final=done.permanent)
    return Outcome(job, False, error, final)


def execute(
    project: Project, job: Job, worker: str, then: Callable[[Tx], Any] | None = None
) -> Outcome:
    """Run a claimed job and record finished or failed (with retry per the policy).

    `then(tx)` runs inside the commit that closes the job, after the reconciler has staged
    what comes next (so it can claim it); its result is `Outcome.after`."""
    done = attempt(project, job, worker)
    policy = project.settings().retry

    def close(tx: Tx) -> Outcome:
        outcome = record(tx, done, worker, policy, project.parts.handler(job.kind))
        if then is not None:
            def after(tx: Tx) -> None:
                outcome.after = then(tx)
            tx.defer(after)
        return outcome

    return project.store.transact(close)


def drain(
    project: Project,
    worker: str,
    *,
    run: str | None = None,
    kinds: set[JobKind] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    max_wait_s: float = 600.0,
) -> int:
    """Claim and run jobs in this process until none is left (waiting out retry backoff).

    Like a pool worker it holds each job's lock from before its claim until it is closed,
    so a worker pool running beside it neither takes its jobs nor mistakes them for dead."""
    locks, cache = JobLocks(project.store), OpenJobs()
    # Where the state is shared through a remote, a job is won there first (decision 1520).
    shared = project.parts.shared_claims(project, worker, locks.held.__contains__)
    strategy = LocalClaims(locks, shared.lease_until if shared is not None else None)

    def ours(jobs: list[Job]) -> list[Job]:
        return [j for j in jobs if run is None or j.run == run]

    def pick(tx: Tx) -> list[Job]:
        return claim_batch(tx, worker, strategy, ours(open_in(tx, cache)), kinds=kinds, limit=1,
                           begin=lambda tx, job: on_claim(project, tx, job),
                           held=trust_hold(project, tx.view))

    def choose(found: list[Job]) -> list[Job]:
        hold = trust_hold(project, project.view())  # not claimed here: this machine may not
        return [j for j in ours(found) if (not kinds or j.kind in kinds)
                and not (hold is not None and hold(j)) and locks.hold(j.id)][:1]

    def record(won: set[str]) -> list[Job]:
        def body(tx: Tx) -> list[Job]:
            assert shared is not None
            shared.take_over(tx, open_in(tx, cache), won)
            return claim_batch(tx, worker, strategy, ours(open_in(tx, cache)), kinds=kinds,
                               limit=1, only=won,
                               begin=lambda tx, job: on_claim(project, tx, job),
                               held=trust_hold(project, tx.view))
        return project.store.transact(body)

    def claim_next() -> list[Job]:
        got = shared.claim(choose, record) if shared is not None else None
        return got if got is not None else project.store.transact(pick)  # offline: here

    done = 0
    deadline = time.monotonic() + max_wait_s
    try:
        claimed = claim_next()
        while True:
            locks.keep_only({j.id for j in claimed})
            if claimed:
                # The commit that closes this job claims (and starts) the next one, unless
                # the next one must be won on the remote first.
                following = _run_claimed(project, claimed[0], worker,
                                         pick if shared is None else None, on_outcome)
                if shared is not None:
                    shared.closed(claimed[:1])
                claimed = following if shared is None else claim_next()
                done += 1
                continue
            wait = _next_wakeup(project, run, kinds)
            if wait is None or time.monotonic() + wait > deadline:
                return done
            time.sleep(max(wait, 0.01))
            claimed = claim_next()
    finally:
        locks.keep_only(set())  # however it ends: no job lock outlives this call
        if shared is not None:
            shared.stop()


def _run_claimed(project: Project, job: Job, worker: str,
                 pick: Callable[[Tx], list[Job]] | None,
                 on_outcome: Callable[[Outcome], None] | None) -> list[Job]:
    """Run a claimed job; its closing commit claims what comes next (returned)."""
    try:
        outcome = execute(project, job, worker, then=pick)
    except BaseException:  # interrupted: give the job back, then stop
        _release_quietly(project, job, worker)
        raise
    following: list[Job] = outcome.after or []
    try:
        if on_outcome is not None:
            on_outcome(outcome)
    except BaseException:
        for later in following:
            _release_quietly(project, later, worker)
        raise
    return following


def _release_quietly(project: Project, job: Job, worker: str) -> None:
    """Release an interrupted claim; if even that fails, the free job lock lets the next
    dflow command recover it."""
    with contextlib.suppress(DflowError, KeyboardInterrupt):
        queue.release(project.store, job, worker)


def _next_wakeup(project: Project, run: str | None, kinds: set[JobKind] | None) -> float | None:
    """Seconds until the earliest delayed job of interest becomes claimable; None if none."""
    now = datetime.now(UTC)
    view = project.view()
    hold = trust_hold(project, view)  # held here: it waits for `dflow trust`, not for time
    waits = [
        (j.not_before - now).total_seconds()
        for j in view.open_jobs()
        if j.status == JobStatus.REQUESTED
        and (run is None or j.run == run)
        and (not kinds or j.kind in kinds)
        and j.not_before is not None
        and not (hold is not None and hold(j))
    ]
    return min(waits) if waits else None
