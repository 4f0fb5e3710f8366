"""Running one job through its kind's handler — the same code in-process and in the pool."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from ..domain.models import Job, JobKind, JobStatus
from ..errors import DflowError
from ..store import Tx
from ..workflow.project import Project
from . import queue


class JobHandler(Protocol):
    """What a job kind does. `run` does the (long) work outside the state lock and returns a
    hook that records its results in the commit that finishes the job. `on_failure` records
    what a failed attempt means for the run, in the commit that records the failure."""

    def run(self, project: Project, job: Job, worker: str) -> Callable[[Tx], None] | None: ...

    def on_failure(self, tx: Tx, job: Job, error: str, final: bool) -> None: ...


HANDLERS: dict[JobKind, JobHandler] = {}


def register(kind: JobKind, handler: JobHandler) -> None:
    HANDLERS[kind] = handler


class _Noop:
    """A job that does nothing: what the pool benchmark measures."""

    def run(self, project: Project, job: Job, worker: str) -> None:
        return None

    def on_failure(self, tx: Tx, job: Job, error: str, final: bool) -> None:
        return None


register(JobKind.NOOP, _Noop())


def worker_id(prefix: str = "w") -> str:
    return f"{prefix}{os.getpid()}@{socket.gethostname()}"


@dataclass
class Outcome:
    job: Job
    ok: bool
    error: str = ""
    final: bool = False


def execute(project: Project, job: Job, worker: str) -> Outcome:
    """Run a claimed job and record finished or failed (with retry per the policy)."""
    handler = HANDLERS.get(job.kind)
    policy = project.settings().retry
    if handler is None:
        error = f"no handler for job kind '{job.kind.value}' in this dflow"
        final = queue.fail(project.store, job, worker, error, policy)
        return Outcome(job, False, error, final)
    try:
        hook = handler.run(project, job, worker)
    except DflowError as exc:
        error = str(exc)

        def failed(tx: Tx, final: bool) -> None:
            handler.on_failure(tx, job, error, final)

        final = queue.fail(project.store, job, worker, error, policy, failed)
        return Outcome(job, False, error, final)
    queue.finish(project.store, job, worker, hook)
    return Outcome(job, True)


def drain(
    project: Project,
    worker: str,
    *,
    run: str | None = None,
    kinds: set[JobKind] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    max_wait_s: float = 600.0,
) -> int:
    """Claim and run jobs in this process until none is left (waiting out retry backoff)."""
    done = 0
    deadline = time.monotonic() + max_wait_s
    while True:
        job = queue.claim(project.store, worker, kinds=kinds, run=run)
        if job is not None:
            outcome = execute(project, job, worker)
            done += 1
            if on_outcome is not None:
                on_outcome(outcome)
            continue
        wait = _next_wakeup(project, run, kinds)
        if wait is None or time.monotonic() + wait > deadline:
            return done
        time.sleep(max(wait, 0.01))


def _next_wakeup(project: Project, run: str | None, kinds: set[JobKind] | None) -> float | None:
    """Seconds until the earliest delayed job of interest becomes claimable; None if none."""
    now = datetime.now(UTC)
    waits = [
        (j.not_before - now).total_seconds()
        for j in project.view().open_jobs()
        if j.status == JobStatus.REQUESTED
        and (run is None or j.run == run)
        and (not kinds or j.kind in kinds)
        and j.not_before is not None
    ]
    return min(waits) if waits else None
