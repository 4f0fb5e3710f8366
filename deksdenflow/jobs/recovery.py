"""Finding the jobs of dead workers and counting their failed attempt."""

from __future__ import annotations

import contextlib
from functools import partial

from ..context.parts import JobHandler
from ..context.project import Project
from ..domain.config.settings import RetrySection
from ..domain.runs.models import Job, JobStatus
from ..errors import IllegalTransition
from ..store import Tx
from . import queue
from .liveness import JobLocks, is_abandoned_candidate


def recover(
    project: Project, locks: JobLocks, jobs: list[Job], policy: RetrySection
) -> list[tuple[Job, bool]]:
    """Count a failed attempt for each claimed job whose worker is gone; (job, final) each.

    The job's lock is held while its failure is recorded, so no worker can claim it in
    between; under the state lock the claim is checked to be the very one we saw."""
    store = project.store
    recovered: list[tuple[Job, bool]] = []
    for job in jobs:
        if not is_abandoned_candidate(job, store) or job.id in locks.held:
            continue
        if not locks.hold(job.id):
            continue  # its worker holds the lock: alive
        try:
            handler = project.parts.handler(job.kind)
            final = store.transact(partial(_fail_abandoned, seen=job, policy=policy,
                                           handler=handler))
        finally:
            locks.let_go(job.id)
        if final is not None:
            recovered.append((job, final))
    return recovered


def recover_dead_claims(project: Project, run: str | None = None) -> list[tuple[Job, bool]]:
    """What any dflow command of this clone may do first: give back the claims of dead
    processes (pool workers, `run --wait`, the console) of `run` (or of every run)."""
    jobs = [j for j in project.view().open_jobs() if run is None or j.run == run]
    return recover(project, JobLocks(project.store), jobs, project.settings().retry)


def _fail_abandoned(tx: Tx, seen: Job, policy: RetrySection,
                    handler: JobHandler | None) -> bool | None:
    current = tx.job(seen.id, seen.run)
    if (
        current is None
        or current.status != JobStatus.CLAIMED
        or current.claimed_by != seen.claimed_by
        or current.attempts != seen.attempts
    ):
        return None  # it moved on (finished, released, re-claimed) since we looked
    worker = current.claimed_by or ""
    error = f"worker {worker} stopped while running the job (its lock in the git dir was free)"
    def failed(tx: Tx, final: bool) -> None:
        if handler is not None:
            # The worker may have died before the handler recorded its start: whatever
            # the handler cannot record must not keep the job from being retried.
            with contextlib.suppress(IllegalTransition):
                handler.on_failure(tx, current, error, final)

    return queue.record_failure(tx, current, worker, error, policy, failed, lost=True)
