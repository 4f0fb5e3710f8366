"""Step transitions: one handler per step.* event type, each checking before it changes."""

from __future__ import annotations

from ..eventlog.events import Event
from ..eventlog.payloads import (
    Payload,
    StepBlocked,
    StepConflicted,
    StepFailed,
    StepFinished,
    StepIntegrated,
    StepQaVerdict,
    StepStarted,
)
from ..runs.models import QaResult, Review, RunSnapshot, StepRun, StepStatus
from .common import NotApplicable, charge, not_terminal, record_tip


def _step(snap: RunSnapshot, event: Event) -> StepRun:
    if event.step is None:
        raise NotApplicable("event names no step")
    step = snap.step(event.step)
    if step is None:
        raise NotApplicable(f"run has no step {event.step}")
    return step


def _expect(step: StepRun, allowed: set[StepStatus], what: str) -> None:
    if step.status not in allowed:
        raise NotApplicable(f"cannot {what} step {step.index}: it is {step.status.value}")


def started(snap: RunSnapshot, event: Event, d: StepStarted) -> None:
    not_terminal(snap, "start a step")
    step = _step(snap, event)
    _expect(step, {StepStatus.PENDING, StepStatus.FAILED}, "start")
    step.status = StepStatus.RUNNING
    snap.run.step_credit = max(0, snap.run.step_credit - 1)
    step.attempts += 1
    step.final_failure = False
    step.reason = ""
    step.engine = d.engine
    step.model = d.model
    step.variant = d.variant or ""
    step.updated_at = event.at


def finished(snap: RunSnapshot, event: Event, d: StepFinished) -> None:
    step = _step(snap, event)
    _expect(step, {StepStatus.RUNNING}, "finish")
    if d.next not in (StepStatus.NEEDS_QA, StepStatus.COMPLETED):
        raise NotApplicable(f"a finished step goes to needs_qa or completed, not {d.next.value}")
    step.status = d.next
    step.summary = d.summary
    # No engine named (a commit adopted from an interrupted attempt): the start's stays.
    step.prompt_hash = d.prompt_hash or step.prompt_hash
    step.engine = d.engine or step.engine
    step.model = d.model or step.model
    step.commit = d.commit
    if not snap.run.parallel:  # a parallel step's commit is on its own branch until merged
        record_tip(snap, event, d.commit)
    step.conflict, step.conflict_with = [], []  # a resolve attempt's merge is committed
    step.duration_s += d.duration_s
    step.updated_at = event.at
    charge(snap, d, step)


def failed(snap: RunSnapshot, event: Event, d: StepFailed) -> None:
    step = _step(snap, event)
    _expect(step, {StepStatus.RUNNING}, "fail")
    step.status = StepStatus.FAILED
    step.failures += 1
    step.reason = d.reason
    step.final_failure = d.final
    step.duration_s += d.duration_s
    step.updated_at = event.at
    charge(snap, d, step)


def qa_verdict(snap: RunSnapshot, event: Event, d: StepQaVerdict) -> None:
    step = _step(snap, event)
    _expect(step, {StepStatus.NEEDS_QA, StepStatus.COMPLETED, StepStatus.BLOCKED}, "review")
    step.qa = QaResult(verdict=d.verdict, summary=d.summary, findings=list(d.findings))
    step.reviews.append(Review(verdict=d.verdict, engine=step.engine, model=step.model))
    spent = step.qa_spend
    spent.engine, spent.model = d.engine or spent.engine, d.model or spent.model
    spent.usage = spent.usage + d.usage
    if d.cost is not None:
        spent.cost = (spent.cost or 0.0) + d.cost
    if d.verdict == "PASS":
        step.status = StepStatus.COMPLETED
        step.reason = ""
        step.qa_passes += 1
    else:
        step.qa_fails += 1
        step.status = StepStatus.BLOCKED
        step.reason = "QA failed: " + (d.summary or "; ".join(d.findings))
    step.updated_at = event.at
    charge(snap, d)


def approved(snap: RunSnapshot, event: Event, d: Payload) -> None:
    step = _step(snap, event)
    if step.status == StepStatus.COMPLETED:
        raise NotApplicable(f"step {step.index} is already completed")
    step.status = StepStatus.COMPLETED
    step.final_failure = False
    step.reason = f"approved by {event.actor}"
    step.updated_at = event.at


def retried(snap: RunSnapshot, event: Event, d: Payload) -> None:
    not_terminal(snap, "retry a step")
    step = _step(snap, event)
    _expect(step, {StepStatus.FAILED, StepStatus.BLOCKED, StepStatus.NEEDS_QA}, "retry")
    step.status = StepStatus.PENDING
    step.final_failure = False
    step.integrated = None  # run again: its new work is merged again
    step.updated_at = event.at
    if snap.run.intent == "step":
        snap.run.step_credit = max(snap.run.step_credit, 1)  # a retry is that step's go


def blocked(snap: RunSnapshot, event: Event, d: StepBlocked) -> None:
    step = _step(snap, event)
    allowed = {StepStatus.PENDING, StepStatus.RUNNING, StepStatus.NEEDS_QA, StepStatus.FAILED}
    if snap.run.parallel and not step.integrated:
        allowed.add(StepStatus.COMPLETED)  # its merge into the run branch failed for good
    _expect(step, allowed, "block")
    step.status = StepStatus.BLOCKED
    step.reason = d.reason
    step.updated_at = event.at


def integrated(snap: RunSnapshot, event: Event, d: StepIntegrated) -> None:
    step = _step(snap, event)
    if not snap.run.parallel:
        raise NotApplicable("only the steps of a parallel run are integrated")
    if step.integrated:
        raise NotApplicable(f"step {step.index} is already integrated")
    _expect(step, {StepStatus.COMPLETED, StepStatus.NEEDS_QA}, "integrate")
    step.integrated = d.commit
    record_tip(snap, event, d.commit)
    step.updated_at = event.at


def conflicted(snap: RunSnapshot, event: Event, d: StepConflicted) -> None:
    not_terminal(snap, "record a conflict")
    step = _step(snap, event)
    if step.integrated:
        raise NotApplicable(f"step {step.index} is already integrated")
    _expect(step, {StepStatus.COMPLETED, StepStatus.NEEDS_QA}, "send back")
    step.status = StepStatus.PENDING
    step.conflict, step.conflict_with = list(d.files), list(d.against)
    step.reason = "conflict with the run branch in " + ", ".join(d.files[:5])
    step.updated_at = event.at
