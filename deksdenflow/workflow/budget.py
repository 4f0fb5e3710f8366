"""Per-run token budgets: strict blocks the run, warn notes it, off ignores it."""

from __future__ import annotations

from ..domain.events import EventType
from ..domain.models import RunSnapshot
from ..domain.settings import ProjectSettings
from ..store import Tx

KEY = "budget"


def exceeded(snap: RunSnapshot, settings: ProjectSettings) -> str | None:
    """Why the run is over its budget, or None."""
    budget = settings.budget
    used = snap.run.usage.total
    if budget.mode == "off" or budget.tokens <= 0 or used < budget.tokens:
        return None
    return (f"{snap.run.id} used {used} tokens of its budget of {budget.tokens}; raise it with "
            "`dflow config set budget.tokens N` (or set budget.mode to warn)")


def gate(tx: Tx, uid: str, settings: ProjectSettings) -> bool:
    """May the run start more work? Records the block, the lift, or the warning."""
    snap = tx.run(uid)
    why = exceeded(snap, settings)
    if why is None:
        if KEY in snap.run.blocks:
            tx.emit(EventType.RUN_UNBLOCKED, run=uid, data={"key": KEY})
        return True
    if settings.budget.mode == "strict":
        if KEY not in snap.run.blocks:
            tx.emit(EventType.RUN_BLOCKED, run=uid, data={"key": KEY, "reason": why})
        return False
    tx.emit(EventType.RUN_NOTE, run=uid, data={"level": "warning", "reason": why})
    return True
