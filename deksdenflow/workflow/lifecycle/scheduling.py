"""Applying the reconciler: the run's needs (domain/decisions/reconcile.py) become job requests in
the transaction that changed the run (docs/decisions/0800-intent-and-one-reconciler.md).

The store calls `reconcile_touched` after every transaction's own changes, before the
commit is written; controls call `reconcile` to learn the result for the user.
"""

from __future__ import annotations

from ...domain.config.settings import ProjectSettings
from ...domain.decisions import parallel
from ...domain.decisions.reconcile import Needs, needs
from ...domain.eventlog.payloads import IntentMode, JobPayload, RunIntent, RunPlanStarted
from ...domain.runs.models import Job, JobKind, RunSnapshot, StepStatus
from ...jobs import queue
from ...store import Tx
from ..spend import alerts, budget


def request_plan(tx: Tx, uid: str) -> Job:
    """Stage run.plan_started and the plan job."""
    tx.emit(RunPlanStarted(), run=uid)
    return queue.request(tx, JobKind.PLAN, run=uid)


def request_step(tx: Tx, uid: str, kind: JobKind, step: int) -> Job:
    return queue.request(tx, kind, run=uid, step=step)


def set_intent(tx: Tx, uid: str, mode: IntentMode, steps: int = 1) -> None:
    """Record what the user asked for: `all`, `step` (`steps` more steps) or `manual`."""
    tx.emit(RunIntent(mode=mode, steps=steps), run=uid)


def reconcile(tx: Tx, uid: str, settings: ProjectSettings) -> Needs:
    """Request what the run needs now (gated by the limits, workflow/spend/budget.py); return the
    decision."""
    alerts.check(tx, uid, settings)  # an alert when this transaction's spend crossed one
    result = needs(tx.run(uid), settings)
    gated = bool(result.jobs) and settings.budget.mode != "off"
    if gated or budget.KEY in tx.run(uid).run.blocks:
        budget.gate(tx, uid, settings)  # records the block, its lift, or a warning
        result = needs(tx.run(uid), settings)
    for need in result.jobs:
        if need.kind == JobKind.PLAN:
            request_plan(tx, uid)
        else:
            lane = parallel.lane(tx.run(uid), need.kind, need.step)
            queue.request(tx, need.kind, run=uid, step=need.step,
                          payload=JobPayload(lane=lane) if lane else None)
    return result


def reconcile_touched(tx: Tx, settings: ProjectSettings, every_run: bool = False) -> None:
    """Reconcile each run this transaction touched (every run when settings changed)."""
    uids = {e.run for e in tx.events if e.run is not None}
    if every_run:
        uids |= {s.run.uid for s in tx.view.runs() if not _finished(s)}
    for uid in sorted(uids):
        reconcile(tx, uid, settings)


def _finished(snap: RunSnapshot) -> bool:
    return snap.run.cancelled or snap.run.failed or snap.run.merged


def finished_next(settings: ProjectSettings) -> StepStatus:
    """Where a finished step goes: QA, unless the policy is never."""
    return StepStatus.COMPLETED if settings.qa.policy == "never" else StepStatus.NEEDS_QA
