"""What the reconciler answers: jobs to request, or why a run waits
(domain/decisions/reconcile.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from ..runs.models import JobKind


class Waiting(BaseModel):
    """Why a run is not moving, and the command that moves it (`dflow status --json`)."""

    reason: str
    command: str


@dataclass(frozen=True)
class JobNeed:
    kind: JobKind
    step: int | None = None


@dataclass(frozen=True)
class Needs:
    """Jobs the run should have open (empty: none), or why it waits (None: it is moving or
    finished)."""

    jobs: tuple[JobNeed, ...] = field(default=())
    waiting: Waiting | None = None
    terminal: bool = False


def wait(reason: str, command: str) -> Needs:
    return Needs(waiting=Waiting(reason=reason, command=command))
