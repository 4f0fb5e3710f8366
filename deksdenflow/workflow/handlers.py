"""The workflow's job handlers, for the composition root's registry (deksdenflow/wiring.py)."""

from __future__ import annotations

from ..context.parts import JobHandler
from ..domain.runs.models import JobKind
from .delivery.integration import IntegrateHandler
from .phases.execution import ExecuteHandler
from .phases.planning import PlanHandler
from .phases.review import QaHandler


def handlers() -> dict[JobKind, JobHandler]:
    return {JobKind.PLAN: PlanHandler(), JobKind.EXECUTE: ExecuteHandler(),
            JobKind.QA: QaHandler(), JobKind.INTEGRATE: IntegrateHandler()}
