"""Budget alerts: the payload of `run.budget_alert` (one typed model, decision 1224).

An alert says that the spend counted by one budget (a run's or the project's month, in
tokens or cost) reached a fraction of its limit. Its `prefix` names the budget and its
period; a threshold is fired once an alert with the same prefix and an equal or higher
threshold is on the ref, so a clone that merged another's alert does not fire it again.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class BudgetAlert(BaseModel):
    """A budget alert as the run snapshot keeps it; the `run.budget_alert` payload
    (`payloads.RunBudgetAlert`) has the same fields, and `alerts.command` reads them on stdin."""

    scope: Literal["run", "month"]
    metric: Literal["tokens", "cost"]
    period: str = Field(description="the run's uid, or the month as YYYY-MM (UTC)")
    threshold: float = Field(gt=0, description="the fraction of the limit reached, e.g. 0.8")
    used: float
    limit: float
    key: str = Field(description="the settings key that sets the limit")
    text: str = Field(description="one sentence with the figure, for status and the console")

    @property
    def prefix(self) -> str:
        return f"{self.scope}:{self.metric}:{self.period}"


def fired(alerts: list[BudgetAlert], prefix: str, threshold: float) -> bool:
    """Has this threshold (or a higher one) of this budget and period fired already?"""
    return any(a.prefix == prefix and a.threshold >= threshold for a in alerts)


def newest(alerts: list[BudgetAlert]) -> list[BudgetAlert]:
    """The highest alert per budget and period, in the order they first appear."""
    best: dict[str, BudgetAlert] = {}
    for alert in alerts:
        if alert.prefix not in best or alert.threshold > best[alert.prefix].threshold:
            best[alert.prefix] = alert
    return list(best.values())
