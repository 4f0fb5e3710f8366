"""The fold: ordered events -> snapshots, enforcing the run/step/job state machines.

An event that does not apply to the state it meets (after a merge, say, a step finished on
one machine and approved on another) is recorded in `rejected`, never dropped and never a
crash: two replicas that have seen the same events always derive the same snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from . import graph
from .events import Event, EventType, ordered
from .models import (
    CLOSED_JOBS_KEPT,
    REJECTED_KEPT,
    CiResult,
    Job,
    JobKind,
    JobStatus,
    ProtocolRun,
    QaResult,
    Rejected,
    RunSnapshot,
    RunStatus,
    StepRun,
    StepStatus,
    StepType,
    Usage,
)


class NotApplicable(Exception):
    """Raised inside a transition; the fold turns it into a Rejected record."""


# What parsing event data of the wrong shape raises (pydantic's ValidationError is a ValueError).
MALFORMED = (KeyError, ValueError, TypeError, AttributeError)


def fold(events: Iterable[Event], start: RunSnapshot | None = None) -> RunSnapshot | None:
    """Fold a run's events (in any order) onto `start` (copied, never mutated)."""
    snap = start.model_copy(deep=True) if start is not None else None
    early: list[Event] = []
    for event in ordered(list(events)):
        if snap is None:
            if event.type == EventType.RUN_CREATED:
                snap = _created(event)
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
    try:
        handler = _HANDLERS.get(event.type)
        if handler is None:
            raise NotApplicable(f"{event.type} does not belong to a run")
        handler(snap, event)
    except NotApplicable as exc:
        return str(exc)
    except MALFORMED as exc:
        # Event data comes from other machines and other dflow versions: a value of the
        # wrong shape is recorded like any other event that does not apply, never a crash.
        # Handlers parse before they mutate, so nothing was half-applied.
        return f"malformed {event.type.value} data: {type(exc).__name__}: {exc}"
    return None


def _count(snap: RunSnapshot, event: Event) -> None:
    snap.event_count += 1
    snap.last_event = event.id
    snap.last_lamport = max(snap.last_lamport, event.lamport)
    snap.run.updated_at = _later(snap.run.updated_at, event.at)
    snap.run.status = derive_status(snap)


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
    if steps and all(s.status == StepStatus.COMPLETED for s in steps):
        return RunStatus.COMPLETED
    if any(s.status != StepStatus.PENDING for s in steps):
        return RunStatus.RUNNING
    return RunStatus.PLANNED


# --- runs -------------------------------------------------------------------------------


def _created(event: Event) -> RunSnapshot:
    d = event.data
    uid = event.run or event.id
    run = ProtocolRun(
        uid=uid,
        number=_int_or(d.get("number"), 0),
        name=str(d.get("name") or uid),
        task=str(d.get("task", "")),
        branch=str(d.get("branch", "")),
        base=str(d.get("base", "")),
        worktree=str(d.get("worktree", "")),
        engine=d.get("engine"),
        created_at=event.at,
        created_by=event.actor,
        updated_at=event.at,
    )
    return RunSnapshot(run=run, event_count=1, last_event=event.id, last_lamport=event.lamport)


def _duplicate_created(snap: RunSnapshot, event: Event) -> None:
    raise NotApplicable("run already created")


def _not_terminal(snap: RunSnapshot, what: str) -> None:
    run = snap.run
    if run.cancelled or run.failed or run.merged:
        raise NotApplicable(f"cannot {what}: run is {derive_status(snap).value}")


def _renumbered(snap: RunSnapshot, event: Event) -> None:
    snap.run.number = int(event.data["number"])


def _plan_started(snap: RunSnapshot, event: Event) -> None:
    _not_terminal(snap, "plan")
    if snap.run.planned:
        raise NotApplicable("run is already planned")
    snap.run.plan_started = True
    snap.run.blocks.pop("plan", None)


def _planned(snap: RunSnapshot, event: Event) -> None:
    _not_terminal(snap, "record a plan")
    if snap.run.planned:
        raise NotApplicable("run is already planned")
    steps = []
    for raw in event.data.get("steps", []):
        steps.append(
            StepRun(
                index=int(raw["index"]),
                type=StepType(raw.get("type", "work")),
                title=str(raw.get("title", "")),
                file=str(raw.get("file", "")),
                updated_at=event.at,
            )
        )
    given = {int(r["index"]): r.get("depends_on") for r in event.data.get("steps", [])}
    try:  # from before dependencies (none recorded): each step needs the one before
        deps = graph.resolve([s.index for s in steps], given)
    except graph.GraphError as exc:
        raise NotApplicable(str(exc)) from exc
    for step in steps:
        step.depends_on = deps[step.index]
    spend = _spend(event.data)
    snap.run.parallel = bool(event.data.get("parallel", False))
    snap.steps = sorted(steps, key=lambda s: s.index)
    snap.run.planned = True
    snap.run.plan_started = True
    snap.run.plan_prompt_hash = event.data.get("prompt_hash")
    commit = event.data.get("commit")
    snap.run.plan_commit = str(commit) if commit else None
    snap.run.blocks.pop("plan", None)
    _charge(snap, spend)


def _plan_failed(snap: RunSnapshot, event: Event) -> None:
    if snap.run.planned:
        raise NotApplicable("run is already planned")
    _charge(snap, _spend(event.data))
    if event.data.get("final", True):
        snap.run.blocks["plan"] = str(event.data.get("reason", "planning failed"))


def _paused(snap: RunSnapshot, event: Event) -> None:
    _not_terminal(snap, "pause")
    if snap.run.status == RunStatus.COMPLETED:
        raise NotApplicable("cannot pause: run is completed")
    if snap.run.paused:
        raise NotApplicable("run is already paused")
    snap.run.paused = True


def _resumed(snap: RunSnapshot, event: Event) -> None:
    if not snap.run.paused:
        raise NotApplicable("run is not paused")
    snap.run.paused = False


def _cancelled(snap: RunSnapshot, event: Event) -> None:
    _not_terminal(snap, "cancel")
    if snap.run.status == RunStatus.COMPLETED:
        raise NotApplicable("run is already completed")
    snap.run.cancelled = True


def _failed(snap: RunSnapshot, event: Event) -> None:
    _not_terminal(snap, "fail")
    snap.run.failed = True
    snap.run.blocks["failed"] = str(event.data.get("reason", ""))


def _blocked(snap: RunSnapshot, event: Event) -> None:
    _not_terminal(snap, "block")
    snap.run.blocks[str(event.data.get("key", "blocked"))] = str(event.data.get("reason", ""))


def _unblocked(snap: RunSnapshot, event: Event) -> None:
    key = str(event.data.get("key", "blocked"))
    if key not in snap.run.blocks:
        raise NotApplicable(f"run is not blocked by '{key}'")
    del snap.run.blocks[key]


def _merged(snap: RunSnapshot, event: Event) -> None:
    if snap.run.merged:
        raise NotApplicable("run is already merged")
    snap.run.merged = True
    snap.run.blocks.clear()


def _pr_opened(snap: RunSnapshot, event: Event) -> None:
    snap.run.pr_url = str(event.data.get("url", "")) or None


def _ci_reported(snap: RunSnapshot, event: Event) -> None:
    d = event.data
    snap.run.ci = CiResult(
        status=str(d.get("status", "")),
        url=str(d.get("url", "")),
        branch=str(d.get("branch", "")),
        commit=str(d.get("commit", "")),
        excerpt=str(d.get("excerpt", "")),
        at=event.at,
    )
    if snap.run.cancelled or snap.run.failed or snap.run.merged:
        return  # recorded for the record, but a finished run is not blocked by CI
    if d.get("status") == "failure":
        snap.run.blocks["ci"] = f"CI failed: {d.get('url') or 'no url'}"
    elif d.get("status") == "success":
        snap.run.blocks.pop("ci", None)


def _intent(snap: RunSnapshot, event: Event) -> None:
    mode = str(event.data.get("mode", ""))
    if mode not in ("all", "step", "manual"):
        raise NotApplicable(f"intent must be all, step or manual, not {mode!r}")
    _not_terminal(snap, "set the intent")
    snap.run.intent = mode
    credit = int(event.data.get("steps", 1))  # `dflow new` in step mode: plan, then wait
    snap.run.step_credit = max(0, credit) if mode == "step" else 0


def _engine_chosen(snap: RunSnapshot, event: Event) -> None:
    engine = str(event.data.get("engine") or "")
    if not engine:
        raise NotApplicable("no engine named")
    _not_terminal(snap, "choose an engine")
    snap.run.engine = engine
    snap.run.model = str(event.data.get("model") or "") or None


def _note(snap: RunSnapshot, event: Event) -> None:
    # A note may carry the tokens of work outside any step (a fix-CI attempt, say), so the
    # run's budget sees them; a note without usage changes nothing.
    _charge(snap, _spend(event.data))


# --- steps ------------------------------------------------------------------------------


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


def _step_started(snap: RunSnapshot, event: Event) -> None:
    _not_terminal(snap, "start a step")
    step = _step(snap, event)
    _expect(step, {StepStatus.PENDING, StepStatus.FAILED}, "start")
    step.status = StepStatus.RUNNING
    snap.run.step_credit = max(0, snap.run.step_credit - 1)
    step.attempts += 1
    step.final_failure = False
    step.reason = ""
    step.engine = event.data.get("engine", step.engine)
    step.model = event.data.get("model", step.model)
    step.updated_at = event.at


def _step_finished(snap: RunSnapshot, event: Event) -> None:
    step = _step(snap, event)
    _expect(step, {StepStatus.RUNNING}, "finish")
    d = event.data
    nxt = StepStatus(d.get("next", StepStatus.NEEDS_QA.value))
    if nxt not in (StepStatus.NEEDS_QA, StepStatus.COMPLETED):
        raise NotApplicable(f"a finished step goes to needs_qa or completed, not {nxt.value}")
    duration, spend = float(d.get("duration_s", 0.0)), _spend(d)
    step.status = nxt
    step.summary = str(d.get("summary", ""))
    step.prompt_hash = d.get("prompt_hash", step.prompt_hash)
    step.engine = d.get("engine", step.engine)
    step.model = d.get("model", step.model)
    step.commit = d.get("commit", step.commit)
    step.duration_s += duration
    step.updated_at = event.at
    _charge(snap, spend, step)


def _step_failed(snap: RunSnapshot, event: Event) -> None:
    step = _step(snap, event)
    _expect(step, {StepStatus.RUNNING}, "fail")
    duration, spend = float(event.data.get("duration_s", 0.0)), _spend(event.data)
    step.status = StepStatus.FAILED
    step.failures += 1
    step.reason = str(event.data.get("reason", ""))
    step.final_failure = bool(event.data.get("final", False))
    step.duration_s += duration
    step.updated_at = event.at
    _charge(snap, spend, step)


def _qa_verdict(snap: RunSnapshot, event: Event) -> None:
    step = _step(snap, event)
    _expect(step, {StepStatus.NEEDS_QA, StepStatus.COMPLETED, StepStatus.BLOCKED}, "review")
    d = event.data
    verdict = str(d.get("verdict", ""))
    if verdict not in ("PASS", "FAIL"):
        raise NotApplicable(f"QA verdict must be PASS or FAIL, not {verdict!r}")
    qa = QaResult(
        verdict=verdict,
        summary=str(d.get("summary", "")),
        findings=[str(f) for f in d.get("findings", [])],
    )
    spend = _spend(d)
    step.qa = qa
    if verdict == "PASS":
        step.status = StepStatus.COMPLETED
        step.reason = ""
        step.qa_passes += 1
    else:
        step.qa_fails += 1
        step.status = StepStatus.BLOCKED
        step.reason = "QA failed: " + (qa.summary or "; ".join(qa.findings))
    step.updated_at = event.at
    _charge(snap, spend)


def _approved(snap: RunSnapshot, event: Event) -> None:
    step = _step(snap, event)
    if step.status == StepStatus.COMPLETED:
        raise NotApplicable(f"step {step.index} is already completed")
    step.status = StepStatus.COMPLETED
    step.final_failure = False
    step.reason = f"approved by {event.actor}"
    step.updated_at = event.at


def _retried(snap: RunSnapshot, event: Event) -> None:
    _not_terminal(snap, "retry a step")
    step = _step(snap, event)
    _expect(step, {StepStatus.FAILED, StepStatus.BLOCKED, StepStatus.NEEDS_QA}, "retry")
    step.status = StepStatus.PENDING
    step.final_failure = False
    step.updated_at = event.at
    if snap.run.intent == "step":
        snap.run.step_credit = max(snap.run.step_credit, 1)  # a retry is that step's go


def _step_blocked(snap: RunSnapshot, event: Event) -> None:
    step = _step(snap, event)
    _expect(
        step, {StepStatus.PENDING, StepStatus.RUNNING, StepStatus.NEEDS_QA, StepStatus.FAILED},
        "block",
    )
    step.status = StepStatus.BLOCKED
    step.reason = str(event.data.get("reason", ""))
    step.updated_at = event.at


# --- jobs -------------------------------------------------------------------------------


def apply_job(job: Job | None, event: Event) -> Job:
    """One job transition; raises NotApplicable when the job is not in a fitting state."""
    d = event.data
    if event.type == EventType.JOB_REQUESTED:
        if job is not None:
            raise NotApplicable(f"job {job.id} already requested")
        return Job(
            id=str(d.get("job") or event.id),
            kind=JobKind(d["kind"]),
            run=event.run,
            step=event.step,
            not_before=_dt(d.get("not_before")),
            payload=dict(d.get("payload", {})),
            requested_at=event.at,
            updated_at=event.at,
        )
    if job is None:
        raise NotApplicable(f"no job {d.get('job')}")
    job = job.model_copy()
    job.updated_at = event.at
    if event.type == EventType.JOB_CLAIMED:
        if job.status != JobStatus.REQUESTED:
            who = f" by {job.claimed_by}" if job.claimed_by else ""
            raise NotApplicable(f"job {job.id} is already {job.status.value}{who}")
        job.status = JobStatus.CLAIMED
        job.attempts += 1
        job.claimed_by = str(d.get("worker", event.actor))
        job.claimed_at = event.at
        job.lease_until = _dt(d.get("lease_until"))
    elif event.type in (EventType.JOB_FINISHED, EventType.JOB_FAILED, EventType.JOB_RELEASED):
        if job.status != JobStatus.CLAIMED:
            raise NotApplicable(f"job {job.id} is {job.status.value}, not claimed")
        claimer = d.get("worker")
        if claimer is not None and claimer != job.claimed_by:
            raise NotApplicable(f"job {job.id} is claimed by {job.claimed_by}, not {claimer}")
        job.claimed_by, job.lease_until = None, None
        if event.type == EventType.JOB_FINISHED:
            job.status = JobStatus.FINISHED
        elif event.type == EventType.JOB_RELEASED:
            job.status = JobStatus.REQUESTED
            job.attempts = max(0, job.attempts - 1)
        else:
            if d.get("lost"):
                job.lost += 1  # infrastructure, not the agent: counted apart
            else:
                job.failures += 1
            job.error = str(d.get("error", ""))
            if d.get("final", False):
                job.status = JobStatus.FAILED
            else:
                job.status = JobStatus.REQUESTED
                job.not_before = _dt(d.get("retry_at"))
    elif event.type == EventType.JOB_CANCELLED:
        if not job.is_open:
            raise NotApplicable(f"job {job.id} is already {job.status.value}")
        job.status = JobStatus.CANCELLED
        job.claimed_by = None
    else:
        raise NotApplicable(f"{event.type} is not a job event")
    return job


def _job_event(snap: RunSnapshot, event: Event) -> None:
    job_id = str(event.data.get("job") or event.id)
    current = snap.job(job_id)
    updated = apply_job(current, event)
    if current is None:
        snap.jobs.append(updated)
    else:
        snap.jobs[snap.jobs.index(current)] = updated
    _trim_jobs(snap)


def _trim_jobs(snap: RunSnapshot) -> None:
    closed = [j for j in snap.jobs if not j.is_open]
    if len(closed) > CLOSED_JOBS_KEPT:
        drop = {j.id for j in closed[: len(closed) - CLOSED_JOBS_KEPT]}
        snap.jobs = [j for j in snap.jobs if j.id not in drop]


# --- helpers ----------------------------------------------------------------------------


def _reject(snap: RunSnapshot, event: Event, reason: str) -> None:
    snap.rejected.append(
        Rejected(event=event.id, type=event.type.value, step=event.step, reason=reason)
    )
    snap.rejected_count += 1
    if len(snap.rejected) > REJECTED_KEPT:
        snap.rejected = snap.rejected[-REJECTED_KEPT:]


def _usage(d: dict[str, Any]) -> Usage:
    raw = d.get("usage") or {}
    return Usage(
        input_tokens=int(raw.get("input_tokens", 0) or 0),
        output_tokens=int(raw.get("output_tokens", 0) or 0),
        cached_input_tokens=int(raw.get("cached_input_tokens", 0) or 0),
    )


Spend = tuple[Usage, float | None]


def _spend(d: dict[str, Any]) -> Spend:
    """Parse tokens and cost first, so a malformed value rejects before anything changes."""
    cost = d.get("cost")
    return _usage(d), float(cost) if cost is not None else None


def _charge(snap: RunSnapshot, spend: Spend, step: StepRun | None = None) -> None:
    usage, cost = spend
    snap.run.usage = snap.run.usage + usage
    if cost is not None:
        snap.run.cost += cost
    if step is not None:
        step.usage = step.usage + usage
        if cost is not None:
            step.cost = (step.cost or 0.0) + cost


def _int_or(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _dt(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


_HANDLERS: dict[EventType, Callable[[RunSnapshot, Event], None]] = {
    EventType.RUN_CREATED: _duplicate_created,
    EventType.RUN_RENUMBERED: _renumbered,
    EventType.RUN_PLAN_STARTED: _plan_started,
    EventType.RUN_PLANNED: _planned,
    EventType.RUN_PLAN_FAILED: _plan_failed,
    EventType.RUN_PAUSED: _paused,
    EventType.RUN_RESUMED: _resumed,
    EventType.RUN_CANCELLED: _cancelled,
    EventType.RUN_FAILED: _failed,
    EventType.RUN_BLOCKED: _blocked,
    EventType.RUN_UNBLOCKED: _unblocked,
    EventType.RUN_MERGED: _merged,
    EventType.RUN_PR_OPENED: _pr_opened,
    EventType.RUN_CI_REPORTED: _ci_reported,
    EventType.RUN_NOTE: _note,
    EventType.RUN_INTENT: _intent,
    EventType.RUN_ENGINE_CHOSEN: _engine_chosen,
    EventType.STEP_STARTED: _step_started,
    EventType.STEP_FINISHED: _step_finished,
    EventType.STEP_FAILED: _step_failed,
    EventType.STEP_QA_VERDICT: _qa_verdict,
    EventType.STEP_APPROVED: _approved,
    EventType.STEP_RETRIED: _retried,
    EventType.STEP_BLOCKED: _step_blocked,
    EventType.JOB_REQUESTED: _job_event,
    EventType.JOB_CLAIMED: _job_event,
    EventType.JOB_FINISHED: _job_event,
    EventType.JOB_FAILED: _job_event,
    EventType.JOB_RELEASED: _job_event,
    EventType.JOB_CANCELLED: _job_event,
}
