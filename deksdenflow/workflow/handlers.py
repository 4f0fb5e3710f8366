"""The workflow's job handlers, for the composition root's registry (deksdenflow/wiring.py)."""

from __future__ import annotations

from ..context.parts import JobHandler
from ..domain.models import JobKind
from .execution import ExecuteHandler
from .integration import IntegrateHandler
from .planning import PlanHandler
from .review import QaHandler


def handlers() -> dict[JobKind, JobHandler]:
    return {JobKind.PLAN: PlanHandler(), JobKind.EXECUTE: ExecuteHandler(),
            JobKind.QA: QaHandler(), JobKind.INTEGRATE: IntegrateHandler()}
