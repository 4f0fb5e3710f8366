"""A constructed history: runs with known engines, models, tokens, costs and verdicts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import (
    PlannedStep,
    RunCreated,
    RunFailed,
    RunMerged,
    RunPlanned,
    StepFailed,
    StepFinished,
    StepQaVerdict,
    StepStarted,
)
from deksdenflow.domain.runs.models import StepType, Usage
from deksdenflow.store import Tx


def add_run(project: Project, number: int, steps: list[dict[str, object]],
            plan_usage: int = 0, status: str = "") -> str:
    """One run whose steps used what `steps` says: {engine, model, in, out, cost, secs,
    verdict, fails}; `status` "merged" or "failed" ends it."""

    def body(tx: Tx) -> str:
        uid = tx.emit(RunCreated(number=number, name=f"r{number}", task="t",
                                 engine="codex")).run
        assert uid is not None
        plan = [PlannedStep(index=i + 1, type=StepType(str(s.get("type", "work"))))
                for i, s in enumerate(steps)]
        tx.emit(RunPlanned(steps=plan, usage=Usage(input_tokens=plan_usage)), run=uid)
        for i, s in enumerate(steps, start=1):
            _step(tx, uid, i, s)
        if status == "merged":
            tx.emit(RunMerged(), run=uid)
        elif status == "failed":
            tx.emit(RunFailed(reason="given up"), run=uid)
        return uid

    return project.store.transact(body)


def _step(tx: Tx, uid: str, i: int, s: dict[str, object]) -> None:
    who: dict[str, Any] = {"engine": s.get("engine", "codex"), "model": s.get("model", "m1")}
    for _ in range(int(s.get("fails", 0))):  # type: ignore[call-overload]
        tx.emit(StepStarted(**who), run=uid, step=i)
        tx.emit(StepFailed(reason="boom", duration_s=1.0, usage=Usage(input_tokens=10)),
                run=uid, step=i)
    tx.emit(StepStarted(**who), run=uid, step=i)
    tx.emit(StepFinished(**who, duration_s=s.get("secs", 2.0), cost=s.get("cost"),
                         usage=Usage(input_tokens=s.get("in", 0), output_tokens=s.get("out", 0))),
            run=uid, step=i)
    if s.get("verdict"):
        tx.emit(StepQaVerdict(verdict=s["verdict"], usage=Usage(input_tokens=5, output_tokens=1)),
                run=uid, step=i)


@pytest.fixture
def history(project: Project) -> Callable[[], list[str]]:
    def build() -> list[str]:
        return [
            add_run(project, 1, [
                {"model": "m1", "in": 100, "out": 20, "cost": 0.5, "secs": 3, "verdict": "PASS"},
                {"model": "m2", "in": 50, "out": 5, "cost": 0.25, "secs": 40, "fails": 2,
                 "verdict": "FAIL"},
            ], plan_usage=7, status="merged"),
            add_run(project, 2, [
                {"engine": "claude", "model": "sonnet", "in": 1000, "out": 100, "cost": 1.0,
                 "secs": 400, "verdict": "PASS"},
            ], status="failed"),
        ]

    return build
