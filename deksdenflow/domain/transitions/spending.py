"""What the limits count, kept on the run by the fold: the newest attempt's spend and the
spend per calendar month (docs/decisions/1220-limits-per-attempt-run-month.md)."""

from __future__ import annotations

from ..eventlog.event_types import EventType
from ..eventlog.events import Event
from ..eventlog.payloads import RunNote
from ..eventlog.payloads import Spend as Spent
from ..runs.models import AttemptSpend, RunSnapshot, Spend, month_of


def account(snap: RunSnapshot, event: Event) -> None:
    """An applied event that records agent work's tokens or cost is an attempt's spend: the
    newest attempt and its calendar month (UTC, of the event) are what the attempt and month
    limits count."""
    data = event.data
    if not isinstance(data, Spent) or (data.usage.total == 0 and not data.cost):
        return
    tokens, cost = data.usage.total, data.cost or 0.0
    snap.run.last_attempt = AttemptSpend(tokens=tokens, cost=cost, event=event.id,
                                         what=_attempt_name(snap, event))
    month = month_of(event.at)
    before = snap.run.month_spend.get(month) or Spend()
    snap.run.month_spend[month] = Spend(tokens=before.tokens + tokens, cost=before.cost + cost)


def _attempt_name(snap: RunSnapshot, event: Event) -> str:
    step = snap.step(event.step) if event.step is not None else None
    if event.type in (EventType.RUN_PLANNED, EventType.RUN_PLAN_FAILED):
        return "the plan"
    if event.type == EventType.STEP_QA_VERDICT and step is not None:
        return f"the review of step {step.index:02d}"
    if step is not None:
        return f"step {step.index:02d} attempt {step.attempts}"
    text = event.data.text if isinstance(event.data, RunNote) else ""
    return "a fix-CI attempt" if "fix-CI" in text else "an attempt"
