"""Registers the workflow's job handlers with the runner (imported by jobs.runner on use)."""

from __future__ import annotations

from ..domain.models import JobKind
from ..jobs.runner import register
from .execution import ExecuteHandler
from .planning import PlanHandler
from .review import QaHandler


def install() -> None:
    register(JobKind.PLAN, PlanHandler())
    register(JobKind.EXECUTE, ExecuteHandler())
    register(JobKind.QA, QaHandler())


install()
