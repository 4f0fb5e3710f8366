"""`--wait` with a pool running: watch the state ref while the pool does a run's jobs.

Without a live worker the jobs run in this process (`runner.drain`), as before; with one,
running them here too would only race the pool for the same worktree, so we wait and report
each job that the pool closes, as the in-process path would.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..context.project import Project
from ..domain.runs.models import Job, JobStatus
from ..store import StateView
from . import runner, workers
from .claims import trust_hold
from .runner import Outcome

POOL_CHECK_S = 1.0  # how often we make sure the pool we wait for is still there


def settle(project: Project, worker: str, *, run: str,
           on_outcome: Callable[[Outcome], None] | None = None) -> int:
    """Until `run` has no open job: wait for a live pool, else run its jobs here."""
    done = 0
    while workers.scan(project.store):
        finished, count = _watch(project, run, on_outcome)
        done += count
        if finished:
            return done
    return done + runner.drain(project, worker, run=run, on_outcome=on_outcome)


def _watch(project: Project, run: str,
           on_outcome: Callable[[Outcome], None] | None) -> tuple[bool, int]:
    """(True, n) once the run has no open job; (False, n) when the pool went away first."""
    seen: dict[str, tuple[JobStatus, int]] = {}
    first, count = True, 0
    next_check = time.monotonic() + POOL_CHECK_S
    while True:
        view = project.view()
        snap = view.run(run)
        if snap is None:
            return True, count
        for job in snap.jobs:
            before = seen.get(job.id)
            seen[job.id] = (job.status, job.failures)
            if not first and (before is None or before != seen[job.id]):
                count += _report(job, before, on_outcome)
        first = False
        if not snap.open_jobs or _all_held(project, view, snap.open_jobs):
            return True, count
        if time.monotonic() > next_check:
            if not workers.scan(project.store):
                return False, count
            next_check = time.monotonic() + POOL_CHECK_S
        _sleep_until_moved(project, view.tip)


def _all_held(project: Project, view: StateView, jobs: list[Job]) -> bool:
    """Every open job waits for `dflow trust` here: the pool will not take them either."""
    held = trust_hold(project, view)
    return held is not None and all(j.status == JobStatus.REQUESTED and held(j) for j in jobs)


def _report(job: Job, before: tuple[JobStatus, int] | None,
            on_outcome: Callable[[Outcome], None] | None) -> int:
    failed_again = before is not None and job.failures > before[1]
    if job.status == JobStatus.FINISHED:
        outcome = Outcome(job, True)
    elif job.status == JobStatus.FAILED or failed_again:
        outcome = Outcome(job, False, job.error, job.status == JobStatus.FAILED)
    else:
        return 0
    if on_outcome is not None:
        on_outcome(outcome)
    return 1


def _sleep_until_moved(project: Project, tip: str | None, max_s: float = 0.5) -> None:
    deadline = time.monotonic() + max_s
    while time.monotonic() < deadline and project.store.tip() == tip:
        time.sleep(0.02)
