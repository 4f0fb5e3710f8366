"""Token and cost limits per attempt, per run and per project per calendar month.

`strict` blocks the run before its next attempt, `warn` records a warning and goes on, `off`
ignores the limits. `checks` and `exceeded` are pure: the one place that decides, for the
reconciler, the fix-CI job, `dflow ci report` and the alerts alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from ...domain.config.settings import ProjectSettings
from ...domain.eventlog.payloads import RunBlocked, RunNote, RunUnblocked
from ...domain.runs.models import RunSnapshot, Spend, month_of
from ...store import StateView, Tx

KEY = "budget"
Scope = Literal["attempt", "run", "month"]
Metric = Literal["tokens", "cost"]


@dataclass(frozen=True)
class Check:
    """One configured limit and what it has counted so far."""

    scope: Scope
    metric: Metric
    used: float
    limit: float
    key: str  # the settings key that sets the limit
    period: str  # the attempt's event id, the run's uid, or the month ('2026-11')
    what: str  # who spent it, for the sentence

    @property
    def over(self) -> bool:
        # One attempt may spend exactly its limit; a run or a month at its limit is spent.
        return self.used > self.limit if self.scope == "attempt" else self.used >= self.limit

    def sentence(self) -> str:
        """The figure and the key that sets the limit (the waiting command names the key)."""
        used, limit = _figure(self.metric, self.used), _figure(self.metric, self.limit)
        verb = "used" if self.metric == "tokens" else "cost"
        return f"{self.what} {verb} {used} of its budget of {limit} ({self.key})"


def _figure(metric: Metric, value: float) -> str:
    return f"{int(value)} tokens" if metric == "tokens" else f"${value:.4f}"


def checks(snap: RunSnapshot, settings: ProjectSettings, month: Spend | None = None,
           now: datetime | None = None) -> list[Check]:
    """Every limit that is set, with its count (the month's only when `month` is given)."""
    budget, run = settings.budget, snap.run
    out: list[Check] = []
    last = run.last_attempt
    if last is not None:
        out += _pair("attempt", budget.attempt.max_tokens, budget.attempt.max_cost,
                     Spend(tokens=last.tokens, cost=last.cost), last.event,
                     f"{last.what} of {run.id}", ("budget.attempt.max_tokens",
                                                  "budget.attempt.max_cost"))
    limits = budget.run_limits()
    keys = ("budget.tokens" if budget.tokens else "budget.run.max_tokens",
            "budget.cost" if budget.cost else "budget.run.max_cost")
    out += _pair("run", limits.max_tokens, limits.max_cost,
                 Spend(tokens=run.usage.total, cost=run.cost), run.uid, run.id, keys)
    if month is not None:
        period = month_of(now or datetime.now(UTC))
        out += _pair("month", budget.month.max_tokens, budget.month.max_cost, month, period,
                     f"the project in {period}",
                     ("budget.month.max_tokens", "budget.month.max_cost"))
    return out


def _pair(scope: Scope, tokens: int, cost: float, spent: Spend, period: str, what: str,
          keys: tuple[str, str]) -> list[Check]:
    out = []
    if tokens > 0:
        out.append(Check(scope, "tokens", spent.tokens, tokens, keys[0], period, what))
    if cost > 0:
        out.append(Check(scope, "cost", spent.cost, cost, keys[1], period, what))
    return out


def exceeded(snap: RunSnapshot, settings: ProjectSettings, month: Spend | None = None,
             now: datetime | None = None) -> str | None:
    """Why the run is over a limit, with the figure, or None. Pure."""
    if settings.budget.mode == "off":
        return None
    for check in checks(snap, settings, month, now):
        if check.over:
            return check.sentence()
    return None


def stops(snap: RunSnapshot, settings: ProjectSettings, month: Spend | None = None) -> str | None:
    """Why no further attempt may start (strict mode over a limit), or None: the reconciler's
    waiting reason and what every other requester of work asks."""
    return exceeded(snap, settings, month) if settings.budget.mode == "strict" else None


def needs_month(settings: ProjectSettings) -> bool:
    """Whether anything counts the project's month (it reads every run's snapshot)."""
    month = settings.budget.month
    return settings.budget.mode != "off" and (month.max_tokens > 0 or month.max_cost > 0)


def month_spend(view: StateView, current: RunSnapshot | None = None,
                now: datetime | None = None) -> Spend:
    """What the whole project spent in this calendar month (UTC), from the run snapshots;
    `current` stands in for its own, possibly newer, snapshot."""
    period = month_of(now or datetime.now(UTC))
    tokens, cost = 0, 0.0
    skip = current.run.uid if current is not None else None
    for doc in view.snapshot_docs():
        run = doc.get("run") or {}
        if run.get("uid") == skip:
            continue
        spent = (run.get("month_spend") or {}).get(period) or {}
        tokens += int(spent.get("tokens", 0))
        cost += float(spent.get("cost", 0.0))
    if current is not None:
        mine = current.run.month_spend.get(period) or Spend()
        tokens, cost = tokens + mine.tokens, cost + mine.cost
    return Spend(tokens=tokens, cost=cost)


def month_for(view: StateView, snap: RunSnapshot, settings: ProjectSettings) -> Spend | None:
    """The month's spend when a month limit is set, else None (nothing read)."""
    return month_spend(view, snap) if needs_month(settings) else None


def gate(tx: Tx, uid: str, settings: ProjectSettings) -> bool:
    """May the run start more work? Records the block, the lift, or the warning."""
    snap = tx.run(uid)
    why = exceeded(snap, settings, month_for(tx.view, snap, settings))
    if why is None:
        if KEY in snap.run.blocks:
            tx.emit(RunUnblocked(key=KEY), run=uid)
        return True
    if settings.budget.mode == "strict":
        if snap.run.blocks.get(KEY) != why:
            tx.emit(RunBlocked(key=KEY, reason=why), run=uid)
        return False
    tx.emit(RunNote(level="warning", text=why), run=uid)
    return True
