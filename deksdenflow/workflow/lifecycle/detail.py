"""`dflow show`: one run with its plan, its steps' figures and its recent events."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ...context.project import Project
from ...domain.eventlog.events import Event
from ...domain.plain import RECENT_EVENTS
from ...domain.runs.models import ReviewComment, RunSnapshot, StepRun
from ...store import StateView
from ...store.branches import committed_file, file_at
from ...sync import work
from ..checkouts import placement
from ..delivery import conflicts
from ..delivery.conflicts import ConflictRisk
from .facts import RunFacts, gather
from .runs import RunLine, folder, run_line


class RunDetail(BaseModel):
    """Everything `dflow show` and the console's run screen display."""

    run: RunLine
    plan_path: str
    plan: str
    steps: list[StepRun]
    events: list[Event]
    artifacts: list[str]
    facts: RunFacts = Field(default_factory=RunFacts)
    graph: list[str] = Field(default_factory=list,
                             description="parallel runs: the step graph, one line per step")
    issue_url: str = Field(default="", description="the issue the run was made from")
    review_comments: list[ReviewComment] = Field(
        default_factory=list, description="reviewer comments waiting for a fix")
    conflicts: list[ConflictRisk] = Field(
        default_factory=list, description="parallel runs: unmerged steps touching the same "
        "files, and whether git merge-tree says they conflict")


def plan_text(project: Project, snap: RunSnapshot) -> tuple[str, str]:
    """plan.md as the plan commit holds it, not a later step's rewrite (decision 1545); for a
    run planned before that was recorded, as committed at its recorded tip (another clone's
    work, decision 1500) or on its branch (empty before planning)."""
    path = f"{folder(snap)}/plan.md"
    data = file_at(project.store, snap.run.plan_commit, path) if snap.run.plan_commit else None
    if data is None and snap.run.branch:
        data = committed_file(project.store, snap.run.branch, path, at=work.recorded_tip(snap))
    return path, data.decode("utf-8", errors="replace") if data is not None else ""


def _risks(project: Project, snap: RunSnapshot) -> list[ConflictRisk]:
    """git reads the step branches in this clone's worktree of the run, never a path the
    state records (decision 1501); none without one."""
    here = placement.existing(project, snap) if snap.run.parallel else None
    return conflicts.risks(project, placement.localized(snap, here)) if here is not None else []


def show(project: Project, run_ref: str) -> RunDetail:
    """Everything about one run, as `dflow show` prints it."""
    view = project.view()
    return detail(project, view, view.find_run(run_ref))


def detail(project: Project, view: StateView, snap: RunSnapshot) -> RunDetail:
    path, text = plan_text(project, snap)
    return RunDetail(
        run=run_line(snap, project.settings(view)),
        plan_path=path,
        plan=text,
        steps=snap.steps,
        events=view.run_events(snap.run.uid)[-RECENT_EVENTS:],
        artifacts=view.artifact_names(snap.run.uid),
        facts=gather(project, view, snap),
        graph=conflicts.graph_lines(snap) if snap.run.parallel else [],
        conflicts=_risks(project, snap),
        issue_url=snap.run.issue_url,
        review_comments=snap.run.review_comments,
    )
