"""The fold: ordered events -> snapshots, enforcing the run/step/job state machines.

An event that does not apply to the state it meets (after a merge, say, a step finished on
one machine and approved on another) is recorded in `rejected`, never dropped and never a
crash: two replicas that have seen the same events always derive the same snapshot. Data of
the wrong shape never gets this far (an `Event` holds its type's payload model), and a bug in
a handler raises like any other bug (docs/decisions/0950-typed-event-payloads.md).

The transitions live in `transitions/` (runs, steps, jobs); this module wires them by type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from ..runs.models import REJECTED_KEPT, Rejected, RunSnapshot
from ..transitions import jobs, runs, spending, steps
from ..transitions.common import NotApplicable, derive_status, later
from ..transitions.jobs import apply_job, job_id
from .event_types import EventType
from .events import Event, ordered
from .payloads import (
    JobCancelled,
    JobClaimed,
    JobFailed,
    JobFinished,
    JobReleased,
    JobRequested,
    Payload,
    RunBlocked,
    RunBudgetAlert,
    RunCancelled,
    RunCiReported,
    RunCreated,
    RunEngineChosen,
    RunFailed,
    RunIntent,
    RunMerged,
    RunNote,
    RunPaused,
    RunPlanFailed,
    RunPlanned,
    RunPlanStarted,
    RunPrOpened,
    RunRenumbered,
    RunResumed,
    RunReviewAddressed,
    RunReviewReported,
    RunUnblocked,
    StepApproved,
    StepBlocked,
    StepConflicted,
    StepFailed,
    StepFinished,
    StepIntegrated,
    StepQaVerdict,
    StepRetried,
    StepStarted,
)

__all__ = ["NotApplicable", "apply", "apply_job", "apply_strict", "derive_status", "fold",
           "job_id"]

P = TypeVar("P", bound=Payload)
Handler = Callable[[RunSnapshot, Event], None]


def fold(events: Iterable[Event], start: RunSnapshot | None = None) -> RunSnapshot | None:
    """Fold a run's events (in any order) onto `start` (copied, never mutated)."""
    snap = start.model_copy(deep=True) if start is not None else None
    early: list[Event] = []
    for event in ordered(list(events)):
        if snap is None:
            if event.type == EventType.RUN_CREATED:
                snap = runs.created(event)
                for orphan in early:
                    _reject(snap, orphan, "arrived before its run was created")
            else:
                early.append(event)
            continue
        apply(snap, event)
    return snap


def apply(snap: RunSnapshot, event: Event) -> RunSnapshot:
    """Apply one event to a working snapshot in place; used by the fold and by the store."""
    reason = _transition(snap, event)
    if reason is not None:
        _reject(snap, event, reason)
    _count(snap, event)
    return snap


def apply_strict(snap: RunSnapshot, event: Event) -> str | None:
    """Apply `event` only if it applies; else return why, with `snap` untouched.

    Cheaper than copying the snapshot first: every handler raises before it mutates (the
    property test in tests/domain/test_fold.py holds them to it)."""
    reason = _transition(snap, event)
    if reason is None:
        _count(snap, event)
    return reason


def _transition(snap: RunSnapshot, event: Event) -> str | None:
    """Why `event` does not apply, or None once it applied. Only NotApplicable is caught:
    anything else a handler raises is a bug and must surface as one."""
    handler = _HANDLERS.get(event.type)
    try:
        if handler is None:
            raise NotApplicable(f"{event.type} does not belong to a run")
        handler(snap, event)
        spending.account(snap, event)
    except NotApplicable as exc:
        return str(exc)
    return None


def _count(snap: RunSnapshot, event: Event) -> None:
    snap.event_count += 1
    snap.last_event = event.id
    snap.last_lamport = max(snap.last_lamport, event.lamport)
    snap.run.updated_at = later(snap.run.updated_at, event.at)
    snap.run.status = derive_status(snap)


def _reject(snap: RunSnapshot, event: Event, reason: str) -> None:
    snap.rejected.append(
        Rejected(event=event.id, type=event.type.value, step=event.step, reason=reason)
    )
    snap.rejected_count += 1
    if len(snap.rejected) > REJECTED_KEPT:
        snap.rejected = snap.rejected[-REJECTED_KEPT:]


def _on(model: type[P], handle: Callable[[RunSnapshot, Event, P], None]) -> tuple[
        EventType, Handler]:
    """A handler typed by its payload model, keyed by that model's event type."""
    def call(snap: RunSnapshot, event: Event) -> None:
        handle(snap, event, event.payload(model))
    return model.TYPE, call


_HANDLERS: dict[EventType, Handler] = dict([
    _on(RunCreated, runs.duplicate_created),
    _on(RunRenumbered, runs.renumbered),
    _on(RunPlanStarted, runs.plan_started),
    _on(RunPlanned, runs.planned),
    _on(RunPlanFailed, runs.plan_failed),
    _on(RunPaused, runs.paused),
    _on(RunResumed, runs.resumed),
    _on(RunCancelled, runs.cancelled),
    _on(RunFailed, runs.failed),
    _on(RunBlocked, runs.blocked),
    _on(RunUnblocked, runs.unblocked),
    _on(RunMerged, runs.merged),
    _on(RunPrOpened, runs.pr_opened),
    _on(RunCiReported, runs.ci_reported),
    _on(RunNote, runs.note),
    _on(RunIntent, runs.intent),
    _on(RunEngineChosen, runs.engine_chosen),
    _on(RunBudgetAlert, runs.budget_alert),
    _on(RunReviewReported, runs.review_reported),
    _on(RunReviewAddressed, runs.review_addressed),
    _on(StepStarted, steps.started),
    _on(StepFinished, steps.finished),
    _on(StepFailed, steps.failed),
    _on(StepQaVerdict, steps.qa_verdict),
    _on(StepApproved, steps.approved),
    _on(StepRetried, steps.retried),
    _on(StepBlocked, steps.blocked),
    _on(StepIntegrated, steps.integrated),
    _on(StepConflicted, steps.conflicted),
    _on(JobRequested, jobs.job_event),
    _on(JobClaimed, jobs.job_event),
    _on(JobFinished, jobs.job_event),
    _on(JobFailed, jobs.job_event),
    _on(JobReleased, jobs.job_event),
    _on(JobCancelled, jobs.job_event),
])
