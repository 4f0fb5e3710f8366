"""Every fact the ref holds about a run, gathered for `dflow show` and the console: CI with
its redacted log excerpt, notes, failures (a malformed verdict's reason too), the engine and
model of each attempt, the transcripts with the command that opens each, and a diff stat per
step."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, Field

from ..context.project import Project
from ..domain.events import Event, EventType
from ..domain.models import CiResult, RunSnapshot
from ..errors import DflowError
from ..store import StateView
from . import diffs

_TRANSCRIPT = re.compile(
    r"^transcripts/(?:(?P<step>\d+)-(?P<kind>execute|qa)|(?P<other>[a-z-]+?))"
    r"-(?P<job>[0-9A-Z]{26})(?:-(?P<attempt>\d+))?\.log$")


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


def note_text(data: dict[str, object]) -> str:
    """A run.note's words: ci/ writes `text`, the budget writes `reason`; both are shown."""
    parts = [str(data[k]) for k in ("text", "reason") if data.get(k)]
    return " — ".join(dict.fromkeys(parts))


def gather(project: Project, view: StateView, snap: RunSnapshot) -> RunFacts:
    events = view.run_events(snap.run.uid)
    return RunFacts(
        ci=snap.run.ci,
        notes=[Note(at=e.at, level=str(e.data.get("level") or "info"), text=note_text(e.data))
               for e in events if e.type == EventType.RUN_NOTE and note_text(e.data)],
        failures=_failures(events),
        attempts=_attempts(events),
        transcripts=transcripts(snap, view.artifact_names(snap.run.uid)),
        changes=_changes(project, snap),
    )


def _failures(events: list[Event]) -> list[Failure]:
    kinds = {str(e.data.get("job") or e.id): (str(e.data.get("kind", "")), e.step)
             for e in events if e.type == EventType.JOB_REQUESTED}
    found = []
    for e in events:
        if e.type == EventType.JOB_FAILED:
            kind, step = kinds.get(str(e.data.get("job", "")), ("", e.step))
            found.append(Failure(at=e.at, kind=kind, step=step, error=str(e.data.get("error"))))
        elif e.type == EventType.STEP_FAILED and e.data.get("reason"):
            found.append(Failure(at=e.at, kind="execute", step=e.step,
                                 error=str(e.data["reason"])))
    return found


def _attempts(events: list[Event]) -> list[Attempt]:
    outcome = {EventType.STEP_FINISHED: ("execute", "finished"),
               EventType.STEP_FAILED: ("execute", "failed"),
               EventType.STEP_QA_VERDICT: ("qa", "")}
    found = []
    for e in events:
        if e.type in outcome and e.step is not None:
            kind, result = outcome[e.type]
            found.append(Attempt(step=e.step, kind=kind,
                                 outcome=result or str(e.data.get("verdict", "")),
                                 engine=e.data.get("engine"), model=e.data.get("model")))
    return found


def transcripts(snap: RunSnapshot, names: list[str]) -> list[Transcript]:
    """The run's transcripts, numbered per step and kind in the order they ran."""
    parsed = []
    for name in names:
        m = _TRANSCRIPT.match(name)
        if m is None:
            continue
        step = int(m["step"]) if m["step"] else None
        kind = m["kind"] or m["other"]
        parsed.append((m["job"], int(m["attempt"] or 1), step, kind, name))
    parsed.sort()
    counts: dict[tuple[int | None, str], int] = {}
    found = []
    for _job, _n, step, kind, name in parsed:
        key = (step, kind if step is not None else "run")  # plan, fix-CI: one list per run
        counts[key] = counts.get(key, 0) + 1
        n = counts[key]
        where = f" {step}" if step is not None else ""
        flags = " --qa" if kind == "qa" else ""
        found.append(Transcript(name=name, step=step, kind=kind, attempt=n,
                                command=f"dflow logs {snap.run.id}{where}{flags} --attempt {n}"))
    return found


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
    return found
