"""Per-run token budgets: strict blocks the run, warn notes it, off ignores it."""

from __future__ import annotations

from ..domain.models import RunSnapshot
from ..domain.payloads import RunBlocked, RunNote, RunUnblocked
from ..domain.settings import ProjectSettings
from ..store import Tx

KEY = "budget"


def exceeded(snap: RunSnapshot, settings: ProjectSettings) -> str | None:
    """Why the run is over its budget (tokens or cost), or None. Pure: the one place that
    decides budget checks, for the reconciler, the fix-CI job and `ci report` alike."""
    budget = settings.budget
    if budget.mode == "off":
        return None
    used = snap.run.usage.total
    if 0 < budget.tokens <= used:
        return (f"{snap.run.id} used {used} tokens of its budget of {budget.tokens}; raise it "
                "with `dflow config set budget.tokens N` (or set budget.mode to warn)")
    if 0 < budget.cost <= snap.run.cost:
        return (f"{snap.run.id} cost ${snap.run.cost:.4f} of its budget of ${budget.cost:.4f}; "
                "raise it with `dflow config set budget.cost N` (or set budget.mode to warn)")
    return None


def stops(snap: RunSnapshot, settings: ProjectSettings) -> str | None:
    """Why no further attempt may start (strict mode over a budget), or None: the reconciler's
    waiting reason and what every other requester of work asks."""
    return exceeded(snap, settings) if settings.budget.mode == "strict" else None


def gate(tx: Tx, uid: str, settings: ProjectSettings) -> bool:
    """May the run start more work? Records the block, the lift, or the warning."""
    snap = tx.run(uid)
    why = exceeded(snap, settings)
    if why is None:
        if KEY in snap.run.blocks:
            tx.emit(RunUnblocked(key=KEY), run=uid)
        return True
    if settings.budget.mode == "strict":
        if KEY not in snap.run.blocks:
            tx.emit(RunBlocked(key=KEY, reason=why), run=uid)
        return False
    tx.emit(RunNote(level="warning", text=why), run=uid)
    return True
