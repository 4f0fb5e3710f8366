"""Creating protocol runs and reading their status and events."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from ... import faults
from ...domain.config.settings import ProjectSettings
from ...domain.decisions.reconcile import Waiting, waiting
from ...domain.eventlog.alerts import BudgetAlert, newest
from ...domain.eventlog.events import Event
from ...domain.eventlog.payloads import RunCreated
from ...domain.runs import stages
from ...domain.runs.layout import protocol_folder
from ...domain.runs.models import TERMINAL_RUN_STATUSES, RunSnapshot, RunStatus
from ...errors import InvalidName, NameClash, UsageError, did_you_mean

if TYPE_CHECKING:  # the status listing imports this module: no store writer, no git runner
    from ...context.project import Project
    from ...domain.intake import Issue
    from ...store import StateView, Tx

MAX_NAME = 48


def slugify(name: str) -> str:
    """`Add Login!` -> `add-login`; empty when nothing usable is left."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return text[:MAX_NAME].rstrip("-")


def valid_name(name: str) -> str:
    slug = slugify(name)
    if not slug:
        raise InvalidName(
            f"'{name}' has no letters or digits to name a run; use something like add-login"
        )
    return slug


def next_number(tx: Tx, floor: int = 0) -> int:
    """The next free number, at least `floor` (a number claimed on the remote)."""
    return max(max((n for n, _ in tx.run_names().values()), default=0) + 1, floor)


def claimed_floor(project: Project) -> int:
    """A number claimed on the remote when one is configured, else 0 (decision 0401)."""
    return project.parts.claim_number(project)


def check_name_free(tx: Tx, slug: str) -> None:
    """A name is free again once every run that bore it is merged or cancelled (`clean`
    leaves only such runs): the new run gets a new number, so a new branch `NNNN-name`
    (docs/decisions/1578-reuse-a-finished-name.md)."""
    # Only the runs of that name are read whole (1,000 validated snapshots cost ~0.15 s).
    named = sorted(uid for uid, (_, name) in tx.run_names().items() if name == slug)
    for snap in (tx.run(uid) for uid in named):
        run = snap.run
        if run.name != slug or run.status == RunStatus.CANCELLED or run.merged:
            continue
        word = stages.stage(run.status.value, paused=run.paused, merged=run.merged)
        move = (f"land it (dflow land {run.id}) or cancel it (dflow cancel {run.id})"
                if word == "ready to land" else f"cancel it (dflow cancel {run.id})")
        raise NameClash(f"protocol run {run.id} already uses the name '{slug}' (it is {word}); "
                        f"{move} first, or choose another name")


def record_run(tx: Tx, slug: str, task: str, *, base: str, engine: str | None = None,
               worktree: str = "", floor: int = 0, variant: str = "",
               issue: Issue | None = None) -> RunSnapshot:
    """Stage a run.created event with the next protocol number; returns the new snapshot."""
    check_name_free(tx, slug)
    number = next_number(tx, floor)
    event = tx.emit(RunCreated(number=number, name=slug, task=task,
                               branch=f"{number:04d}-{slug}", base=base, engine=engine,
                               worktree=worktree, variant=variant,
                               issue_number=issue.number if issue else None,
                               issue_url=issue.url if issue else ""))
    assert event.run is not None
    return tx.run(event.run)


def create_run(project: Project, name: str, task: str, engine: str | None = None,
               plan: bool = True, variant: str | None = None,
               issue: Issue | None = None) -> RunSnapshot:
    """Record a run with its branch `NNNN-name` and worktree; request its plan unless told not.

    Nothing is half-made: a failure after the worktree exists removes it and the branch."""
    # Here, not at the top: the status listing imports this module for `run_line`, and must
    # not load the job machinery behind scheduling (docs/decisions/1301).
    from ..checkouts import worktrees  # why: start-up
    from ..phases import variants
    from . import creation, scheduling

    slug = valid_name(name)
    if not task.strip():
        raise InvalidName("the task is empty; say what the agent should do with --task")
    settings = project.settings()
    if engine is not None:  # the engines' entry points are read only when one is named
        check_engine(settings, engine, project.parts.engine_kinds())
    variants.check(settings, variant)
    base = settings.project.base_branch
    worktrees.check_clean(project)
    # A repository whose base has no commit yet can still record runs (`--no-plan`); their
    # branch and worktree are made when the run is first planned (docs/decisions/0004).
    deferred = not plan and worktrees.is_unborn(project, base)
    start = "" if deferred else worktrees.start_point(project, base)
    root = worktrees.worktree_root(project)
    made: list[tuple[str, Path]] = []
    creation.recover(project)  # what a killed `dflow new` left (decision 0831)
    markers = creation.Markers(project)
    floor = claimed_floor(project)

    def body(tx: Tx) -> RunSnapshot:
        check_name_free(tx, slug)
        branch = f"{next_number(tx, floor):04d}-{slug}"
        if deferred:
            worktrees.check_free(project, branch, root / branch)
        elif not made or made[-1][0] != branch:  # a retried transaction may pick a new number
            while made:
                worktrees.remove(project, *made[-1])
                markers.end(made.pop()[0])
            worktrees.check_free(project, branch, root / branch)
            markers.begin(branch, root / branch)
            faults.point("new.before-worktree")
            worktrees.create(project, branch, root / branch, start)
            made.append((branch, root / branch))
            faults.point("new.worktree-made")
        snap = record_run(tx, slug, task, base=base, engine=engine, worktree=str(root / branch),
                          floor=floor, variant=variants.choose(settings, branch, variant),
                          issue=issue)
        # What `dflow new` asks for is the project's loop mode; `--no-plan` is hands-off.
        scheduling.set_intent(tx, snap.run.uid, settings.loop.mode if plan else "manual", 0)
        return tx.run(snap.run.uid)

    try:
        created = project.store.transact(body)
        faults.point("new.recorded")
        return created
    except BaseException:
        for branch, path in made:
            creation.undo(project, branch, path)
        raise
    finally:
        markers.end_all()


def folder(snap: RunSnapshot) -> str:
    """The protocol folder on the branch; named after the branch, which a renumbering
    (after a number clash between clones) does not rename."""
    return protocol_folder(snap.run)


def check_engine(settings: ProjectSettings, engine: str | None, kinds: list[str]) -> None:
    if engine is None:
        return
    kind = settings.engine(engine).kind
    if kind not in kinds:
        hint = did_you_mean(engine, sorted({*settings.engines, *kinds}))
        raise UsageError(f"unknown engine '{engine}'{hint} (known: {', '.join(kinds)}); "
                         "try --engine demo")


class StepLine(BaseModel):
    index: int
    type: str
    title: str
    status: str
    attempts: int
    tokens: int
    cost: float | None
    duration_s: float


class RunLine(BaseModel):
    id: str
    uid: str
    number: int
    name: str
    status: str
    paused: bool
    task: str
    branch: str
    engine: str | None
    steps_done: int
    steps_total: int
    tokens: int
    cost: float
    blocks: dict[str, str]
    open_jobs: list[dict[str, str | int | None]]
    updated: datetime | None
    steps: list[StepLine]
    merged: bool = False
    ready: bool = False
    stage: str = Field(default="", description="where the run is, in the words people see: "
                       + ", ".join(stages.STAGES))
    waiting: Waiting | None = None
    alerts: list[BudgetAlert] = Field(default_factory=list,
                                      description="the highest alert per budget and period")


class StatusReport(BaseModel):
    runs: list[RunLine]


def run_line(snap: RunSnapshot, settings: ProjectSettings) -> RunLine:
    """The run's status line; `waiting` says why it is not moving (None while it moves)."""
    run = snap.run
    wait = waiting(snap, settings)
    return RunLine(
        id=run.id,
        uid=run.uid,
        number=run.number,
        name=run.name,
        status=run.status.value,
        paused=run.paused,
        task=run.task,
        branch=run.branch,
        engine=run.engine,
        steps_done=snap.steps_done,
        steps_total=len(snap.steps),
        tokens=run.usage.total,
        cost=run.cost,
        blocks=run.blocks,
        alerts=newest(run.alerts),
        open_jobs=[
            {"id": j.id, "kind": j.kind.value, "step": j.step, "status": j.status.value}
            for j in snap.open_jobs
        ],
        updated=run.updated_at,
        merged=run.merged,
        ready=is_ready(snap),
        stage=stages.stage(run.status.value, paused=run.paused, merged=run.merged,
                           waiting=wait is not None),
        steps=[
            StepLine(
                index=s.index,
                type=s.type.value,
                title=s.title,
                status=s.status.value,
                attempts=s.attempts,
                tokens=s.usage.total,
                cost=s.cost,
                duration_s=round(s.duration_s, 3),
            )
            for s in snap.steps
        ],
        waiting=wait,
    )


def is_ready(snap: RunSnapshot) -> bool:
    """Every step passed and nothing blocks it, but its branch is not on the base yet."""
    run = snap.run
    return run.status == RunStatus.COMPLETED and not run.merged


def run_stage(snap: RunSnapshot, settings: ProjectSettings) -> str:
    """The word people see for where the run is (domain/runs/stages.py), as `run_line` says it."""
    run = snap.run
    waits = (run.status not in TERMINAL_RUN_STATUSES and not run.paused
             and waiting(snap, settings) is not None)
    return stages.stage(run.status.value, paused=run.paused, merged=run.merged, waiting=waits)


FILTERS = ("ready", "merged", "active")


def matches(snap: RunSnapshot, which: str) -> bool:
    """`ready`: all steps passed, not landed; `merged`: on the base; `active`: neither, and
    not cancelled or failed."""
    run = snap.run
    if which == "ready":
        return is_ready(snap)
    if which == "merged":
        return run.merged and not run.cancelled
    return not (run.merged or run.cancelled or run.failed or is_ready(snap))


def status(project: Project, ref: str | None = None, view: StateView | None = None,
           only: str | None = None) -> StatusReport:
    view = view or project.view()
    snaps = [view.find_run(ref)] if ref else view.runs()
    if only is not None:
        snaps = [s for s in snaps if matches(s, only)]
    settings = project.settings(view)
    return StatusReport(runs=[run_line(s, settings) for s in snaps])


def events(project: Project, ref: str | None = None, limit: int | None = None) -> list[Event]:
    """The event timeline, oldest first; `limit` keeps the newest N."""
    view = project.view()
    if ref:
        found = view.run_events(view.find_run(ref).run.uid)
    elif limit:
        return view.newest_events(limit)  # reads only the runs that can hold one of them
    else:
        found = list(view.root_events())
        for uid in view.run_uids():
            found.extend(view.run_events(uid))
        found.sort(key=lambda e: e.order_key)
    return found[-limit:] if limit else found
