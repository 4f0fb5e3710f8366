"""What every transition shares: the rejection signal, the derived run status, charging."""

from __future__ import annotations

from datetime import datetime

from ..eventlog.events import Event
from ..eventlog.payloads import Spend
from ..runs.models import RunSnapshot, RunStatus, StepRun, StepStatus
from ..runs.stages import stage


class NotApplicable(Exception):
    """Raised inside a transition before it changes anything; the fold records it as Rejected."""


def derive_status(snap: RunSnapshot) -> RunStatus:
    run = snap.run
    if run.cancelled:
        return RunStatus.CANCELLED
    if run.merged:
        return RunStatus.COMPLETED
    if run.failed:
        return RunStatus.FAILED
    if not run.planned:
        if run.blocks:
            return RunStatus.BLOCKED
        return RunStatus.PLANNING if run.plan_started else RunStatus.PENDING
    steps = snap.steps
    if run.blocks or any(
        s.status == StepStatus.BLOCKED or (s.status == StepStatus.FAILED and s.final_failure)
        for s in steps
    ):
        return RunStatus.BLOCKED
    if steps and all(s.status == StepStatus.COMPLETED and (s.integrated or not run.parallel)
                     for s in steps):
        return RunStatus.COMPLETED
    if any(s.status != StepStatus.PENDING for s in steps):
        return RunStatus.RUNNING
    return RunStatus.PLANNED


def not_terminal(snap: RunSnapshot, what: str) -> None:
    run = snap.run
    if run.cancelled or run.failed or run.merged:
        word = stage(derive_status(snap).value, merged=run.merged)
        raise NotApplicable(f"cannot {what}: run is {word}")


def charge(snap: RunSnapshot, spend: Spend, step: StepRun | None = None) -> None:
    """Add the tokens and cost an event records to the run (and to its step)."""
    snap.run.usage = snap.run.usage + spend.usage
    if spend.cost is not None:
        snap.run.cost += spend.cost
    if step is not None:
        step.usage = step.usage + spend.usage
        if spend.cost is not None:
            step.cost = (step.cost or 0.0) + spend.cost


def later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def record_tip(snap: RunSnapshot, event: Event, commit: str | None) -> None:
    """A commit dflow made on the run branch is the newest work every clone continues from
    (and the one `land` and `pr` need); who recorded it is named when it cannot be found."""
    if commit:
        snap.run.tip = commit
        snap.run.tip_by = event.actor
