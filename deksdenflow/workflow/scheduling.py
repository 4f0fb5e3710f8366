"""What runs next: one place decides, for the controls and for the job hooks alike.

Jobs are requested in the same transaction as the events that make them necessary
(docs/decisions/0100-workflow-job-chaining.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..domain.events import EventType
from ..domain.models import (
    TERMINAL_RUN_STATUSES,
    Job,
    JobKind,
    JobStatus,
    StepRun,
    StepStatus,
)
from ..domain.settings import ProjectSettings
from ..jobs import queue
from ..store import Tx
from . import budget


@dataclass
class Next:
    """The jobs now open for the run, and why nothing was requested when there are none."""

    jobs: list[Job] = field(default_factory=list)
    why: str = ""


def request_plan(tx: Tx, uid: str, then: str | None = None) -> Job:
    """Stage run.plan_started and the plan job; `then` ('step'|'all') continues after it."""
    tx.emit(EventType.RUN_PLAN_STARTED, run=uid)
    return queue.request(tx, JobKind.PLAN, run=uid, payload={"then": then})


def request_step(tx: Tx, uid: str, kind: JobKind, step: int, chain: bool) -> Job:
    return queue.request(tx, kind, run=uid, step=step, payload={"chain": chain})


def next_jobs(tx: Tx, uid: str, settings: ProjectSettings, chain: bool,
              current: str | None = None) -> Next:
    """Request the run's next job(s) unless some are open; `chain` keeps going afterwards.
    `current` is the job whose finishing commit this is (it is still open until then)."""
    snap = tx.run(uid)
    run = snap.run
    if run.status in TERMINAL_RUN_STATUSES:
        return Next(why=f"{run.id} is {run.status.value}; nothing left to run")
    if run.paused:
        return Next(why=f"{run.id} is paused; `dflow resume {run.id}` first")
    still_open = [j for j in snap.open_jobs if j.id != current]
    if still_open:
        return Next(jobs=[_with_intent(tx, uid, j, chain) for j in still_open])
    if not run.planned:
        return Next(jobs=[request_plan(tx, uid, "all" if chain else "step")])
    if not budget.gate(tx, uid, settings):
        return Next(why=budget.exceeded(tx.run(uid), settings) or "over budget")
    blocks = {k: v for k, v in tx.run(uid).run.blocks.items() if k != budget.KEY}
    if blocks:
        key, reason = next(iter(blocks.items()))
        return Next(why=f"{run.id} is blocked by {key}: {reason}")
    return _step_jobs(tx, uid, settings, chain)


def _with_intent(tx: Tx, uid: str, job: Job, chain: bool) -> Job:
    """`dflow run` on a run whose plan is still queued (as `dflow new` leaves it): the plan
    must now go on to the steps, so that a worker pool finishes the run. A queued job cannot
    change, so it is replaced by one that says so (a claimed one is left as it is)."""
    want = "all" if chain else "step"
    then = job.payload.get("then")
    if job.kind != JobKind.PLAN or job.status != JobStatus.REQUESTED or then in (want, "all"):
        return job
    tx.emit(EventType.JOB_CANCELLED, run=uid, data={"job": job.id})
    return queue.request(tx, JobKind.PLAN, run=uid, payload={"then": want})


def _step_jobs(tx: Tx, uid: str, settings: ProjectSettings, chain: bool) -> Next:
    snap = tx.run(uid)
    policy = settings.qa.policy
    for step in snap.steps:
        if step.status == StepStatus.COMPLETED:
            continue
        if step.status == StepStatus.NEEDS_QA:
            if policy == "each_step":
                return Next(jobs=[request_step(tx, uid, JobKind.QA, step.index, chain)])
            continue  # reviewed at the end (or on demand with `dflow qa`)
        if step.status == StepStatus.PENDING or _is_retryable(step):
            return Next(jobs=[request_step(tx, uid, JobKind.EXECUTE, step.index, chain)])
        return Next(why=f"{snap.run.id}: step {step.index:02d} is {step.status.value}"
                        f"{': ' + step.reason if step.reason else ''}; "
                        f"`dflow step retry {snap.run.id} {step.index}` or `approve` it")
    waiting = [s.index for s in snap.steps if s.status == StepStatus.NEEDS_QA]
    if waiting:
        return Next(jobs=[request_step(tx, uid, JobKind.QA, i, chain) for i in waiting])
    return Next(why=f"{snap.run.id} is {snap.run.status.value}; nothing left to run")


def _is_retryable(step: StepRun) -> bool:
    return step.status == StepStatus.FAILED and not step.final_failure


def finished_next(settings: ProjectSettings) -> StepStatus:
    """Where a finished step goes: QA, unless the policy is never."""
    return StepStatus.COMPLETED if settings.qa.policy == "never" else StepStatus.NEEDS_QA
