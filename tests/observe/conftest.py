"""A constructed history: runs with known engines, models, tokens, costs and verdicts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.events import EventType
from deksdenflow.store import Tx


def add_run(project: Project, number: int, steps: list[dict[str, object]],
            plan_usage: int = 0, status: str = "") -> str:
    """One run whose steps used what `steps` says: {engine, model, in, out, cost, secs,
    verdict, fails}; `status` "merged" or "failed" ends it."""

    def body(tx: Tx) -> str:
        uid = tx.emit(EventType.RUN_CREATED, data={"number": number, "name": f"r{number}",
                                                   "task": "t", "engine": "codex"}).run
        assert uid is not None
        plan = [{"index": i + 1, "type": str(s.get("type", "work"))} for i, s in enumerate(steps)]
        tx.emit(EventType.RUN_PLANNED, run=uid, data={
            "steps": plan, "usage": {"input_tokens": plan_usage, "output_tokens": 0}})
        for i, s in enumerate(steps, start=1):
            _step(tx, uid, i, s)
        if status == "merged":
            tx.emit(EventType.RUN_MERGED, run=uid)
        elif status == "failed":
            tx.emit(EventType.RUN_FAILED, run=uid, data={"reason": "given up"})
        return uid

    return project.store.transact(body)


def _step(tx: Tx, uid: str, i: int, s: dict[str, object]) -> None:
    who = {"engine": s.get("engine", "codex"), "model": s.get("model", "m1")}
    for _ in range(int(s.get("fails", 0))):  # type: ignore[call-overload]
        tx.emit(EventType.STEP_STARTED, run=uid, step=i, data=who)
        tx.emit(EventType.STEP_FAILED, run=uid, step=i, data={
            "reason": "boom", "duration_s": 1.0,
            "usage": {"input_tokens": 10, "output_tokens": 0}})
    tx.emit(EventType.STEP_STARTED, run=uid, step=i, data=who)
    tx.emit(EventType.STEP_FINISHED, run=uid, step=i, data={
        **who, "duration_s": s.get("secs", 2.0), "cost": s.get("cost"),
        "usage": {"input_tokens": s.get("in", 0), "output_tokens": s.get("out", 0)}})
    if s.get("verdict"):
        tx.emit(EventType.STEP_QA_VERDICT, run=uid, step=i, data={
            "verdict": s["verdict"], "usage": {"input_tokens": 5, "output_tokens": 1}})


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
