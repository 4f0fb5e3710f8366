"""Every registered project at a glance, and the runs of all of them in one listing."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from ..context.parts import Parts
from ..context.project import Project
from ..domain.decisions import reconcile
from ..domain.runs.models import RunSnapshot, RunStatus
from ..errors import DflowError
from ..workflow.lifecycle import runs
from . import registry
from .registry import ProjectEntry

ACTIVE = frozenset({RunStatus.PENDING, RunStatus.PLANNING, RunStatus.PLANNED, RunStatus.RUNNING})


class ProjectSummary(BaseModel):
    """One line of `dflow projects`."""

    name: str
    path: str
    remote: str
    base: str
    ci: str
    engines: list[str]
    runs_active: int = 0
    runs_ready: int = 0
    runs_failed: int = 0
    waiting: int = 0  # runs that wait for a person: the reconciler's waiting reason
    last_activity: datetime | None = None
    managed: bool = False
    setup: str = "done"
    error: str = ""  # why the project could not be read (moved, deleted, not set up)


class ProjectRunLine(runs.RunLine):
    project: str


class ProjectError(BaseModel):
    project: str
    error: str


class AllStatus(BaseModel):
    """`dflow status --all --json`: the status contract, each run with its project."""

    runs: list[ProjectRunLine]
    errors: list[ProjectError] = []


def summaries(parts: Parts, reg: registry.Registry | None = None) -> list[ProjectSummary]:
    reg = reg or registry.load()
    return [summary(parts, entry) for _, entry in sorted(reg.projects.items())]


def summary(parts: Parts, entry: ProjectEntry) -> ProjectSummary:
    line = ProjectSummary(name=entry.name, path=entry.path, remote=entry.remote, base=entry.base,
                          ci="", engines=[], managed=entry.managed, setup=entry.setup)
    try:
        project = parts.open_project(entry.path)
        view = project.view()
        if view.tip is None:
            raise DflowError("dflow is not set up there; `dflow projects add` it again")
        fill(line, project, view.runs())
    except DflowError as exc:
        line.error = str(exc)
    return line


def fill(line: ProjectSummary, project: Project, snaps: list[RunSnapshot]) -> None:
    settings = project.settings()
    phases = settings.phases
    line.base = settings.project.base_branch
    line.ci = settings.ci.provider
    line.engines = sorted({phases.default, *(p for p in (phases.plan, phases.execute, phases.qa)
                                             if p)})
    for snap in snaps:
        run = snap.run
        line.runs_active += run.status in ACTIVE and not run.paused
        line.runs_ready += runs.is_ready(snap)
        line.runs_failed += run.status == RunStatus.FAILED
        line.waiting += reconcile.waiting(snap, settings) is not None
        if run.updated_at and (line.last_activity is None or run.updated_at > line.last_activity):
            line.last_activity = run.updated_at


def status_all(parts: Parts, reg: registry.Registry | None = None,
               only: str | None = None) -> AllStatus:
    reg = reg or registry.load()
    out = AllStatus(runs=[])
    for name, entry in sorted(reg.projects.items()):
        try:
            report = runs.status(parts.open_project(entry.path), only=only)
        except DflowError as exc:
            out.errors.append(ProjectError(project=name, error=str(exc)))
            continue
        out.runs.extend(ProjectRunLine(project=name, **line.model_dump())
                        for line in report.runs)
    return out
