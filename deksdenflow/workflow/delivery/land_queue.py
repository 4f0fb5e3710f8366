"""`dflow land --queue`: land every ready run in order, each checked against the base that
the one before it produced; a conflict blocks that run (the files named) and the others go
on (docs/decisions/1404-land-queue.md)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ...context.project import Project
from ...domain.eventlog.payloads import RunBlocked
from ...domain.runs.models import RunSnapshot, StepStatus
from ...errors import DflowError
from ...store import Tx
from . import landing, replay

KEY = "land"


class QueueEntry(BaseModel):
    run: str
    landed: bool
    commit: str = ""
    blocked: str = Field(default="", description="why the run did not land")
    files: list[str] = Field(default_factory=list, description="files in conflict")


class QueueResult(BaseModel):
    base: str = ""
    entries: list[QueueEntry] = Field(default_factory=list)

    @property
    def blocked(self) -> list[QueueEntry]:
        return [e for e in self.entries if not e.landed]


def is_ready(snap: RunSnapshot) -> bool:
    """Every step passed (and, in a parallel run, is merged); blocked by nothing but an
    earlier conflict with the base, which landing again re-checks."""
    run = snap.run
    if run.merged or run.cancelled or run.failed or not run.planned or not snap.steps:
        return False
    if set(run.blocks) - {KEY}:
        return False
    return all(s.status == StepStatus.COMPLETED and (s.integrated or not run.parallel)
               for s in snap.steps)


def ready_runs(project: Project) -> list[RunSnapshot]:
    return sorted((s for s in project.view().runs() if is_ready(s)),
                  key=lambda s: (s.run.number, s.run.uid))


def land_queue(project: Project, strategy: str = "merge",
               allow_contract_changes: bool = False) -> QueueResult:
    """Land the ready runs one after another, by number."""
    result = QueueResult(base=project.settings().project.base_branch)
    for snap in ready_runs(project):
        try:
            done = landing.land(project, snap.run.id, strategy, allow_contract_changes)
        except replay.LandConflict as exc:
            _block(project, snap, f"conflicts with the base in {', '.join(exc.files[:10])}")
            result.entries.append(QueueEntry(run=snap.run.id, landed=False, blocked=str(exc),
                                             files=exc.files))
            continue
        except DflowError as exc:
            result.entries.append(QueueEntry(run=snap.run.id, landed=False, blocked=str(exc)))
            continue
        result.entries.append(QueueEntry(run=snap.run.id, landed=True, commit=done.commit))
    return result


def _block(project: Project, snap: RunSnapshot, why: str) -> None:
    def body(tx: Tx) -> None:
        if tx.run(snap.run.uid).run.blocks.get(KEY) != why:
            tx.emit(RunBlocked(key=KEY, reason=why), run=snap.run.uid)

    project.store.transact(body)
