"""Run transitions: one handler per run.* event type, each checking before it changes."""

from __future__ import annotations

from ..eventlog import alerts
from ..eventlog.events import Event
from ..eventlog.payloads import (
    Payload,
    RunBlocked,
    RunBudgetAlert,
    RunCiReported,
    RunCreated,
    RunEngineChosen,
    RunFailed,
    RunIntent,
    RunNote,
    RunPlanFailed,
    RunPlanned,
    RunPrOpened,
    RunRenumbered,
    RunReviewAddressed,
    RunReviewReported,
    RunUnblocked,
)
from ..runs import graph
from ..runs.models import CiResult, ProtocolRun, RunSnapshot, RunStatus, StepRun
from .common import NotApplicable, charge, not_terminal, record_tip

ALERTS_KEPT = 50


def created(event: Event) -> RunSnapshot:
    """The snapshot a run.created event starts (no number: 0; no name: the uid)."""
    d = event.payload(RunCreated)
    uid = event.run or event.id
    run = ProtocolRun(
        uid=uid, number=d.number, name=d.name or uid, task=d.task, branch=d.branch,
        base=d.base, worktree=d.worktree, engine=d.engine, variant=d.variant,
        issue_number=d.issue_number, issue_url=d.issue_url,
        created_at=event.at, created_by=event.actor, updated_at=event.at,
    )
    return RunSnapshot(run=run, event_count=1, last_event=event.id, last_lamport=event.lamport)


def duplicate_created(snap: RunSnapshot, event: Event, d: RunCreated) -> None:
    raise NotApplicable("run already created")


def renumbered(snap: RunSnapshot, event: Event, d: RunRenumbered) -> None:
    snap.run.number = d.number


def plan_started(snap: RunSnapshot, event: Event, d: Payload) -> None:
    not_terminal(snap, "plan")
    if snap.run.planned:
        raise NotApplicable("run is already planned")
    snap.run.plan_started = True
    snap.run.blocks.pop("plan", None)


def planned(snap: RunSnapshot, event: Event, d: RunPlanned) -> None:
    not_terminal(snap, "record a plan")
    if snap.run.planned:
        raise NotApplicable("run is already planned")
    try:  # from before dependencies (none recorded): each step needs the one before
        deps = graph.resolve([s.index for s in d.steps], {s.index: s.depends_on for s in d.steps})
    except graph.GraphError as exc:
        raise NotApplicable(str(exc)) from exc
    steps = [StepRun(index=s.index, type=s.type, title=s.title, file=s.file,
                     depends_on=deps[s.index], updated_at=event.at) for s in d.steps]
    snap.run.parallel = d.parallel
    snap.steps = sorted(steps, key=lambda s: s.index)
    snap.run.planned = True
    snap.run.plan_started = True
    snap.run.plan_prompt_hash = d.prompt_hash
    snap.run.plan_commit = d.commit or None
    record_tip(snap, event, d.commit)
    snap.run.blocks.pop("plan", None)
    charge(snap, d)


def plan_failed(snap: RunSnapshot, event: Event, d: RunPlanFailed) -> None:
    if snap.run.planned:
        raise NotApplicable("run is already planned")
    charge(snap, d)
    if d.final:
        snap.run.blocks["plan"] = d.reason


def paused(snap: RunSnapshot, event: Event, d: Payload) -> None:
    not_terminal(snap, "pause")
    if snap.run.status == RunStatus.COMPLETED:
        raise NotApplicable("cannot pause: run is completed")
    if snap.run.paused:
        raise NotApplicable("run is already paused")
    snap.run.paused = True


def resumed(snap: RunSnapshot, event: Event, d: Payload) -> None:
    if not snap.run.paused:
        raise NotApplicable("run is not paused")
    snap.run.paused = False


def cancelled(snap: RunSnapshot, event: Event, d: Payload) -> None:
    # A run ready to land (every step passed, not merged) can be abandoned too
    # (docs/decisions/1572-abandon-a-ready-run.md); a merged one cannot: not_terminal.
    not_terminal(snap, "cancel")
    snap.run.cancelled = True


def failed(snap: RunSnapshot, event: Event, d: RunFailed) -> None:
    not_terminal(snap, "fail")
    snap.run.failed = True
    snap.run.blocks["failed"] = d.reason


def blocked(snap: RunSnapshot, event: Event, d: RunBlocked) -> None:
    not_terminal(snap, "block")
    snap.run.blocks[d.key] = d.reason


def unblocked(snap: RunSnapshot, event: Event, d: RunUnblocked) -> None:
    if d.key not in snap.run.blocks:
        raise NotApplicable(f"run is not blocked by '{d.key}'")
    del snap.run.blocks[d.key]


def merged(snap: RunSnapshot, event: Event, d: Payload) -> None:
    if snap.run.merged:
        raise NotApplicable("run is already merged")
    snap.run.merged = True
    snap.run.blocks.clear()


def pr_opened(snap: RunSnapshot, event: Event, d: RunPrOpened) -> None:
    snap.run.pr_url = d.url or None


def ci_reported(snap: RunSnapshot, event: Event, d: RunCiReported) -> None:
    snap.run.ci = CiResult(status=d.status, url=d.url, branch=d.branch, commit=d.commit,
                           excerpt=d.excerpt, at=event.at)
    if snap.run.cancelled or snap.run.failed or snap.run.merged:
        return  # recorded for the record, but a finished run is not blocked by CI
    if d.status == "failure":
        snap.run.blocks["ci"] = f"CI failed: {d.url or 'no url'}"
    elif d.status == "success":
        snap.run.blocks.pop("ci", None)


def intent(snap: RunSnapshot, event: Event, d: RunIntent) -> None:
    not_terminal(snap, "set the intent")
    snap.run.intent = d.mode
    # `dflow new` in step mode: plan, then wait
    snap.run.step_credit = max(0, d.steps) if d.mode == "step" else 0


def engine_chosen(snap: RunSnapshot, event: Event, d: RunEngineChosen) -> None:
    if not d.engine:
        raise NotApplicable("no engine named")
    not_terminal(snap, "choose an engine")
    snap.run.engine = d.engine
    snap.run.model = d.model or None


def budget_alert(snap: RunSnapshot, event: Event, d: RunBudgetAlert) -> None:
    """An alert fires once per budget, period and threshold (or a higher one): a repeat a
    merge brings in is recorded as rejected, not applied (decision 1224)."""
    if alerts.fired(snap.run.alerts, d.prefix, d.threshold):
        raise NotApplicable(f"the {d.threshold:g} alert of {d.prefix} already fired")
    snap.run.alerts = [*snap.run.alerts, d.alert()][-ALERTS_KEPT:]


def note(snap: RunSnapshot, event: Event, d: RunNote) -> None:
    # A note may carry the tokens of work outside any step (a fix-CI attempt, say), so the
    # run's budget sees them; a note without usage changes nothing.
    charge(snap, d)
    record_tip(snap, event, d.commit)  # a fix-CI commit on the run branch


REVIEW_KEPT = 100  # pending comments kept per run: a flood is cut, never unbounded


def review_reported(snap: RunSnapshot, event: Event, d: RunReviewReported) -> None:
    """Comments join the batch the next fix gets; `changes_requested` blocks the run (it is
    no longer ready to land), an approval lifts that (docs/decisions/1592)."""
    run = snap.run
    if run.cancelled or run.failed or run.merged:
        return  # recorded for the record: a finished run takes no more fixes
    if d.state == "approved":
        run.blocks.pop("review", None)
        return
    run.review_comments = [*run.review_comments, *d.comments][:REVIEW_KEPT]
    if d.state == "changes_requested":
        run.blocks["review"] = f"changes requested by {d.reviewer or 'a reviewer'}"


def review_addressed(snap: RunSnapshot, event: Event, d: RunReviewAddressed) -> None:
    not_terminal(snap, "address a review")
    record_tip(snap, event, d.commit)  # the fix is on the run branch: published before this
    snap.run.review_rounds = max(snap.run.review_rounds, d.round)
    if d.gave_up:
        return
    snap.run.review_comments = snap.run.review_comments[d.addressed:]
    snap.run.blocks.pop("review", None)
