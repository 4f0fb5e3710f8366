"""Every fact the ref holds about a run, gathered for `dflow show` and the console: CI with
its redacted log excerpt, notes, failures (a malformed verdict's reason too), the engine and
model of each attempt, the transcripts with the command that opens each, and a diff stat per
step."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from ...context.project import Project
from ...domain.runs import run_facts
from ...domain.runs.models import CiResult, RunSnapshot
from ...domain.runs.transcripts import numbered
from ...errors import DflowError
from ...store import StateView, cache
from ..delivery import diffs


class Note(BaseModel):
    at: datetime
    level: str = "info"
    text: str


class Failure(BaseModel):
    at: datetime
    kind: str = ""
    step: int | None = None
    error: str


class Attempt(BaseModel):
    step: int
    kind: str = Field(description="execute | qa")
    outcome: str
    engine: str | None = None
    model: str | None = None
    sandboxed: bool | None = Field(default=None, description="in its engine's OS sandbox; "
                                   "None: the engine cannot say")


class Transcript(BaseModel):
    name: str
    step: int | None = None
    kind: str
    attempt: int = Field(description="1-based, per step and kind (run-level ones together), "
                         "in the order they ran")
    command: str = Field(description="the command that prints it")


class StepChange(BaseModel):
    step: int
    files: int
    added: int
    deleted: int


class RunFacts(BaseModel):
    ci: CiResult | None = None
    notes: list[Note] = Field(default_factory=list)
    failures: list[Failure] = Field(default_factory=list)
    attempts: list[Attempt] = Field(default_factory=list)
    transcripts: list[Transcript] = Field(default_factory=list)
    changes: list[StepChange] = Field(default_factory=list)


def gather(project: Project, view: StateView, snap: RunSnapshot) -> RunFacts:
    events = [(e.id, e.type.value, e.step, e.at, e.data.model_dump(mode="json"))
              for e in view.run_events(snap.run.uid)]
    return RunFacts(
        ci=snap.run.ci,
        notes=[Note(at=at, level=level, text=text)
               for at, level, text in run_facts.notes(events)],
        failures=[Failure(at=at, kind=kind, step=step, error=error)
                  for at, kind, step, error in run_facts.failures(events)],
        attempts=[Attempt(step=step, kind=kind, outcome=outcome, engine=engine, model=model,
                          sandboxed=sandboxed)
                  for step, kind, outcome, engine, model, sandboxed in run_facts.attempts(events)],
        transcripts=transcripts(snap, view.artifact_names(snap.run.uid)),
        changes=_changes(project, snap),
    )


def transcripts(snap: RunSnapshot, names: list[str]) -> list[Transcript]:
    """The run's transcripts, numbered per step and kind in the order they ran."""
    return [Transcript(name=name, step=step, kind=kind, attempt=n, command=command)
            for name, step, kind, n, command in numbered(snap.run.id, names)]


def pick(found: list[Transcript], step: int | None, qa: bool,
         attempt: int | None) -> Transcript:
    """The transcript `dflow logs` prints: the last one unless an attempt is named."""
    kind = "qa" if qa else "execute"
    chosen = [t for t in found if t.step == step and (step is None or t.kind == kind)]
    what = f"step {step:02d} {kind}" if step is not None else "the run (plan, fix-CI)"
    if not chosen:
        raise DflowError(f"no transcript of {what} yet; `dflow show` lists the transcripts")
    if attempt is None:
        return chosen[-1]
    if not 1 <= attempt <= len(chosen):
        raise DflowError(f"{what} has {len(chosen)} transcript{'s' if len(chosen) != 1 else ''}"
                         f"; choose --attempt 1 to {len(chosen)}")
    return chosen[attempt - 1]


def _changes(project: Project, snap: RunSnapshot) -> list[StepChange]:
    found = []
    known = cache.step_changes(str(project.store.git_dir))
    before = dict(known)
    for step in snap.steps:
        if not step.commit:
            continue
        try:
            d = diffs.diff(project, snap, step.index, patch=False)
        except DflowError:
            continue  # the branch is gone (cleaned) or the commit is not here
        found.append(StepChange(step=step.index, files=len(d.files),
                                added=sum(f.added or 0 for f in d.files),
                                deleted=sum(f.deleted or 0 for f in d.files)))
        known[step.commit] = [found[-1].files, found[-1].added, found[-1].deleted]
    if known != before:  # kept for `dflow show`'s fast path (decision 1313)
        cache.save_step_changes(str(project.store.git_dir), known)
    return found
