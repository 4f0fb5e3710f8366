"""`dflow show`: one run with its plan, its steps' figures and its recent events."""

from __future__ import annotations

import pygit2
from pydantic import BaseModel, Field

from ..context.project import Project
from ..domain.events import Event
from ..domain.models import RunSnapshot, StepRun
from ..store import StateView
from .facts import RunFacts, gather
from .runs import RunLine, folder, run_line

RECENT_EVENTS = 20


class RunDetail(BaseModel):
    """Everything `dflow show` and the console's run screen display."""

    run: RunLine
    plan_path: str
    plan: str
    steps: list[StepRun]
    events: list[Event]
    artifacts: list[str]
    facts: RunFacts = Field(default_factory=RunFacts)


def plan_text(project: Project, snap: RunSnapshot) -> tuple[str, str]:
    """plan.md as committed on the run's branch (empty before planning)."""
    path = f"{folder(snap)}/plan.md"
    ref = project.repo.references.get(f"refs/heads/{snap.run.branch}") if snap.run.branch else None
    if ref is None:
        return path, ""
    try:
        blob = project.repo[ref.target].peel(pygit2.Commit).tree[path]
    except (KeyError, ValueError):
        return path, ""
    if not isinstance(blob, pygit2.Blob):
        return path, ""
    return path, blob.data.decode("utf-8", errors="replace")


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
    )
