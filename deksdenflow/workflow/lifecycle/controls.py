"""The controls the CLI and the console call: request work, approve, retry, pause, show.

Every function takes the project and a run ref as a user typed it ("0001-x", "1", "x"),
changes state only through events in one store transaction, and raises a DflowError
(IllegalTransition naming the current status) when the action does not apply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from ...context import config
from ...context.project import Project
from ...domain.config.settings import ProjectSettings
from ...domain.eventlog.payloads import (
    IntentMode,
    JobCancelled,
    JobPayload,
    RunCancelled,
    RunEngineChosen,
    RunPaused,
    RunResumed,
    StepApproved,
    StepRetried,
    WaitingJob,
)
from ...domain.runs.models import (
    TERMINAL_RUN_STATUSES,
    Job,
    JobKind,
    JobStatus,
    RunSnapshot,
    StepRun,
)
from ...errors import BudgetExceeded, IllegalTransition, StepNotFound
from ...jobs import queue
from ...store import Tx
from ..spend import budget
from . import scheduling
from .runs import run_line, run_stage

# The controls `dflow pause|resume|step approve` run in a fresh process import only what
# they use; the job runner, the run's detail, QA and the worktree checks are imported by the
# functions that need them (docs/decisions/1315-controls-answer-before-typer.md).
if TYPE_CHECKING:
    from ...jobs.runner import Outcome
    from .detail import RunDetail
    from .runs import RunLine

T = TypeVar("T")

__all__ = [
    "approve_step", "cancel", "pause", "request_next", "request_plan",
    "request_qa", "request_step", "resume", "retry_step", "run_until_settled", "show",
    "show_snapshot", "wait",
]


def _in_tx(project: Project, run_ref: str, fn: Callable[[Tx, str, ProjectSettings], T]) -> T:
    settings = project.settings()
    return project.store.transact(lambda tx: fn(tx, tx.find_run(run_ref).run.uid, settings))


def _step(snap: RunSnapshot, index: int) -> StepRun:
    step = snap.step(index)
    if step is None:
        have = ", ".join(f"{s.index:02d}" for s in snap.steps) or "none yet"
        raise StepNotFound(f"{snap.run.id} has no step {index} (steps: {have})")
    return step


def _stage(snap: RunSnapshot, settings: ProjectSettings) -> str:
    """The word people see for where the run is (domain/runs/stages.py)."""

    return run_stage(snap, settings)


def _after(snap: RunSnapshot) -> str:
    """What a finished run can still do."""
    if snap.run.status.value == "completed" and not snap.run.merged:
        return f" (`dflow land {snap.run.id}`, or `dflow cancel {snap.run.id}` to abandon it)"
    return ""


def _mode(settings: ProjectSettings, all_steps: bool | None) -> IntentMode:
    """`dflow run` (and the console's `r`): the project's loop mode; --all / one step."""
    if all_steps is None:
        return settings.loop.mode
    return "all" if all_steps else "step"


def choose_engine(tx: Tx, uid: str, settings: ProjectSettings, engine: str | None,
                  model: str | None, kinds: list[str]) -> None:
    """`--engine E [--model M]`: this run's later attempts use E (with M)."""
    if engine is None and model is None:
        return
    name = engine or tx.run(uid).run.engine or settings.phases.engine_for("execute")
    config.check_engine_name(settings, name, kinds)
    tx.emit(RunEngineChosen(engine=name, model=model), run=uid)


def set_engine(project: Project, run_ref: str, engine: str | None,
               model: str | None) -> None:
    """`dflow plan|run RUN --engine E [--model M]`: switch engines without starting over."""
    _in_tx(project, run_ref, lambda tx, uid, s: choose_engine(tx, uid, s, engine, model,
                                                                project.parts.engine_kinds()))


def _choice(settings: ProjectSettings, engine: str | None, model: str | None,
            kinds: list[str]) -> JobPayload:
    if engine is not None:
        config.check_engine_name(settings, engine, kinds)
    return JobPayload(engine=engine or None, model=model or None)


def request_plan(project: Project, run_ref: str, engine: str | None = None,
                 model: str | None = None) -> Job:
    """Ask for the run to be planned (again, after a failed plan)."""

    def body(tx: Tx, uid: str, settings: ProjectSettings) -> Job:
        choose_engine(tx, uid, settings, engine, model, project.parts.engine_kinds())
        snap = tx.run(uid)
        open_plan = [j for j in snap.open_jobs if j.kind == JobKind.PLAN]
        if open_plan:
            return open_plan[0]
        if snap.run.planned or snap.run.status.value in ("cancelled", "failed", "completed"):
            raise IllegalTransition(f"{snap.run.id} is {_stage(snap, settings)}; it cannot be "
                                    "planned again (start a new run with `dflow new`)")
        if snap.run.paused:
            raise IllegalTransition(f"{snap.run.id} is paused; `dflow resume {snap.run.id}`")
        return scheduling.request_plan(tx, uid)

    return _in_tx(project, run_ref, body)


def request_next(project: Project, run_ref: str, all_steps: bool | None = None,
                 engine: str | None = None, model: str | None = None) -> list[Job]:
    """Record the intent (`all`, or one more `step`) and let the reconciler request the work;
    raise with the reason the run waits when nothing can run."""

    def body(tx: Tx, uid: str, settings: ProjectSettings) -> list[Job]:
        snap = tx.run(uid)
        if snap.run.status in TERMINAL_RUN_STATUSES:
            raise IllegalTransition(f"{snap.run.id} is {_stage(snap, settings)}; nothing left "
                                    "to run" + _after(snap))
        choose_engine(tx, uid, settings, engine, model, project.parts.engine_kinds())
        scheduling.set_intent(tx, uid, _mode(settings, all_steps))
        result = scheduling.reconcile(tx, uid, settings)
        jobs = tx.run(uid).open_jobs
        if not jobs:
            why = result.waiting
            text = f"{snap.run.id}: {why.reason}; {why.command}" if why else "nothing to run"
            raise (BudgetExceeded if "budget" in text else IllegalTransition)(text)
        return jobs

    return _in_tx(project, run_ref, body)


def request_step(project: Project, run_ref: str, step: int,
                 all_steps: bool | None = None) -> list[Job]:
    """Request one given step (`dflow run RUN --step N`), out of order if need be."""

    def body(tx: Tx, uid: str, settings: ProjectSettings) -> list[Job]:
        snap = tx.run(uid)
        target = _step(snap, step)
        if target.status.value not in ("pending", "failed"):
            raise IllegalTransition(f"{snap.run.id} step {step:02d} is {target.status.value}; "
                                    "only a pending or failed step can run")
        queued = [j for j in snap.open_jobs if j.step == step]
        if queued:
            return queued
        if not budget.gate(tx, uid, settings):
            raise BudgetExceeded(tx.run(uid).run.blocks.get(budget.KEY) or "over budget")
        if all_steps is False:
            scheduling.set_intent(tx, uid, "step")  # this step only; its credit is spent here
        return [scheduling.request_step(tx, uid, JobKind.EXECUTE, step)]

    return _in_tx(project, run_ref, body)


def request_qa(project: Project, run_ref: str, step: int | None = None) -> list[Job]:
    """Request QA of one step, or of every step that awaits it."""
    from ..phases.review import REVIEWABLE  # why: start-up

    def body(tx: Tx, uid: str, settings: ProjectSettings) -> list[Job]:
        snap = tx.run(uid)
        if step is None:
            targets = [s for s in snap.steps if s.status.value == "needs_qa"]
            if not targets:
                raise IllegalTransition(f"{snap.run.id} is {_stage(snap, settings)} and no "
                                        "step awaits QA; name a step to review it again")
        else:
            targets = [_step(snap, step)]
            if targets[0].status not in REVIEWABLE:
                raise IllegalTransition(
                    f"{snap.run.id} step {step:02d} is {targets[0].status.value}; only a "
                    "step that ran (needs_qa, completed or blocked) can be reviewed")
        return [scheduling.request_step(tx, uid, JobKind.QA, s.index) for s in targets]

    return _in_tx(project, run_ref, body)


def approve_step(project: Project, run_ref: str, step: int) -> RunSnapshot:
    """Manual override: the step is completed, whatever QA said."""

    def body(tx: Tx, uid: str, settings: ProjectSettings) -> RunSnapshot:
        _step(tx.run(uid), step)
        tx.emit(StepApproved(), run=uid, step=step)
        _cancel_requested(tx, uid, lambda j: j.step == step)
        return tx.run(uid)

    return _in_tx(project, run_ref, body)


def retry_step(project: Project, run_ref: str, step: int, clean: bool = False,
               engine: str | None = None, model: str | None = None) -> list[Job]:
    """Run a failed, blocked or unreviewed step again (its QA findings go into the prompt).
    `clean` first sets aside every uncommitted change in the worktree (into `git stash`)."""
    if clean:
        snap = project.view().find_run(run_ref)
        _step(snap, step)
        from ..checkouts import placement, worktrees  # why: start-up
        from ..phases import changes

        here = placement.existing(project, snap)  # this clone's, never the recorded hint
        if here is not None:
            changes.set_aside(worktrees.located(project, here),
                              f"dflow: set aside by `dflow step retry {snap.run.id} {step} "
                              "--clean`",
                              allow_submodules=project.settings().git.allow_submodules)

    def body(tx: Tx, uid: str, settings: ProjectSettings) -> list[Job]:
        snap = tx.run(uid)
        _step(snap, step)
        queued = [j for j in snap.open_jobs if j.step == step]
        if queued:
            return queued
        # recorded on this attempt only
        choice = _choice(settings, engine, model, project.parts.engine_kinds())
        tx.emit(StepRetried(engine=choice.engine, model=choice.model), run=uid, step=step)
        return [queue.request(tx, JobKind.EXECUTE, run=uid, step=step, payload=choice)]

    return _in_tx(project, run_ref, body)


def _cancel_requested(tx: Tx, uid: str, which: Callable[[Job], bool]) -> list[Job]:
    """Cancel the run's jobs no worker holds yet; a claimed job finishes and records nothing."""
    cancelled = []
    for job in list(tx.run(uid).open_jobs):
        if job.status == JobStatus.REQUESTED and which(job):
            tx.emit(JobCancelled(job=job.id), run=uid, step=job.step)
            cancelled.append(job)
    return cancelled


def pause(project: Project, run_ref: str) -> RunSnapshot:
    """Stop starting new work for the run; `resume` requests what was waiting."""

    def body(tx: Tx, uid: str, settings: ProjectSettings) -> RunSnapshot:
        snap = tx.run(uid)
        if snap.run.paused:
            raise IllegalTransition(f"{snap.run.id} is already paused")
        waiting = [WaitingJob(kind=j.kind, step=j.step, payload=JobPayload(**j.payload))
                   for j in snap.open_jobs if j.status == JobStatus.REQUESTED]
        tx.emit(RunPaused(interrupted=waiting), run=uid)
        _cancel_requested(tx, uid, lambda j: True)
        return tx.run(uid)

    return _in_tx(project, run_ref, body)


def resume(project: Project, run_ref: str) -> RunSnapshot:
    def body(tx: Tx, uid: str, settings: ProjectSettings) -> RunSnapshot:
        snap = tx.run(uid)
        if not snap.run.paused:
            raise IllegalTransition(f"{snap.run.id} is {_stage(snap, settings)}, not paused")
        tx.emit(RunResumed(), run=uid)
        for waiting in _interrupted(tx, uid):
            queue.request(tx, waiting.kind, run=uid, step=waiting.step, payload=waiting.payload)
        return tx.run(uid)

    return _in_tx(project, run_ref, body)


def _interrupted(tx: Tx, uid: str) -> list[WaitingJob]:
    paused = [e.data for e in tx.view.run_events(uid) if isinstance(e.data, RunPaused)]
    return list(paused[-1].interrupted) if paused else []


def cancel(project: Project, run_ref: str, reason: str = "") -> RunSnapshot:
    """Cancel the run (terminal); its branch and worktree stay for you to inspect."""

    def body(tx: Tx, uid: str, settings: ProjectSettings) -> RunSnapshot:
        tx.emit(RunCancelled(reason=reason), run=uid)
        _cancel_requested(tx, uid, lambda j: True)
        return tx.run(uid)

    return _in_tx(project, run_ref, body)


def show_snapshot(project: Project, snap: RunSnapshot) -> RunLine:
    """The status line of a snapshot a control returned (what `--json` prints), with the
    project's effective settings (what the reconciler used)."""

    return run_line(snap, project.settings())


def show(project: Project, run_ref: str) -> RunDetail:
    from .detail import show as detail_of_run  # why: start-up

    return detail_of_run(project, run_ref)


def wait(project: Project, run_ref: str, worker: str,
         on_outcome: Callable[[Outcome], None] | None = None) -> RunSnapshot:
    """Until this run has no job left: run them in this process, or wait for the worker
    pool when one is running (docs/decisions/0302-wait-for-a-live-pool.md)."""
    from ...jobs.recovery import recover_dead_claims  # why: start-up
    from ...jobs.waiting import settle  # why: start-up

    uid = project.view().find_run(run_ref).run.uid
    recover_dead_claims(project, run=uid)
    settle(project, worker, run=uid, on_outcome=on_outcome)  # waits for a live pool
    snap = project.view().run(uid)
    assert snap is not None
    return snap


def run_until_settled(project: Project, run_ref: str, worker: str, all_steps: bool | None = None,
                      on_outcome: Callable[[Outcome], None] | None = None,
                      engine: str | None = None, model: str | None = None) -> RunSnapshot:
    """`dflow run --wait`: record the intent, then do the run's jobs here (or watch the pool
    do them) until it waits for a person or is done; the reconciler chains the jobs."""
    request_next(project, run_ref, all_steps, engine, model)
    return wait(project, run_ref, worker, on_outcome)
