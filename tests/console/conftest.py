"""Console fixtures: real repositories with runs in several states, recorded through the store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.events import EventType
from deksdenflow.domain.eventlog.payloads import payload_of
from deksdenflow.store import Tx
from deksdenflow.workflow.lifecycle import runs

from ..conftest import git

FIXED_NOW = datetime(2026, 11, 25, 9, 0, 0, tzinfo=UTC)

PLAN_MD = """# Add a login page

A page at `/login` with a form, its test, and a README section.

## Steps
1. `00-setup.md` - prepare the module
2. `01-login-form.md` - the form
3. `02-docs.md` - document it
"""


class _Clock(datetime):
    """Event times one second apart from FIXED_NOW - 1h, so screens and snapshots are stable."""

    ticks = 0

    @classmethod
    def now(cls, tz: Any = None) -> _Clock:  # type: ignore[override]
        cls.ticks += 1
        moment = FIXED_NOW - timedelta(hours=1) + timedelta(seconds=cls.ticks)
        return cls.fromtimestamp(moment.timestamp(), tz=tz or UTC)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake the clock the store stamps events with (the one edge we fake for snapshots)."""
    _Clock.ticks = 0
    monkeypatch.setattr("deksdenflow.store.writer.datetime", _Clock)
    yield


def steps(*titles: str) -> list[dict[str, Any]]:
    return [
        {"index": i, "type": "setup" if i == 0 else "work", "title": t,
         "file": f"{i:02d}-{runs.slugify(t)}.md"}
        for i, t in enumerate(titles)
    ]


def emit_all(project: Project, uid: str, events: list[tuple[EventType, int | None, dict[str, Any]]]
             ) -> None:
    def record(tx: Tx) -> None:
        for kind, step, data in events:
            tx.emit(payload_of(kind, data), run=uid, step=step)

    project.store.transact(record)


def plan_branch(worktree: Path, run_id: str, files: dict[str, str]) -> None:
    """Commit protocol files on the run's branch in its worktree, as planning does."""
    where = worktree / ".protocols" / run_id
    where.mkdir(parents=True)
    for name, text in files.items():
        (where / name).write_text(text)
    git("add", "-A", cwd=where)
    git("commit", "-q", "-m", f"feat(protocol): add plan for {run_id}", cwd=where)


def build_runs(project: Project, repo: Path) -> dict[str, str]:
    """Three runs: one mid-way with a step needing QA, one pending, one blocked by QA."""
    login = runs.create_run(project, "add-login", "Add a login page with a form and a test",
                            plan=False)
    pending = runs.create_run(project, "fix-typo", "Fix the typo in the README", plan=False)
    docs = runs.create_run(project, "write-docs", "Document the CLI", plan=False)
    work = {"engine": "demo", "model": "demo-1"}
    done = {"summary": "made the module", "next": "completed", "duration_s": 1.5,
            "usage": {"input_tokens": 1200, "output_tokens": 300}, "cost": 0.01}
    emit_all(project, login.run.uid, [
        (EventType.RUN_PLAN_STARTED, None, {}),
        (EventType.RUN_PLANNED, None, {"steps": steps("Prepare", "Login form", "Docs")}),
        (EventType.STEP_STARTED, 0, work), (EventType.STEP_FINISHED, 0, done),
        (EventType.STEP_STARTED, 1, work),
        (EventType.STEP_FINISHED, 1, {**done, "summary": "added the form", "next": "needs_qa"}),
    ])
    emit_all(project, docs.run.uid, [
        (EventType.RUN_PLANNED, None, {"steps": steps("Write docs")}),
        (EventType.STEP_STARTED, 0, work), (EventType.STEP_FINISHED, 0, done),
        (EventType.STEP_QA_VERDICT, 0, {"verdict": "FAIL", "summary": "docs miss an example",
                                        "findings": ["no example for dflow new"]}),
    ])

    def artifacts(tx: Tx) -> None:
        log = "".join(f"line {i}: agent output\n" for i in range(1, 41)) + "ERROR: flaky test\n"
        tx.put_artifact(login.run.uid, "steps/01/transcript.log", log.encode())
        tx.put_artifact(login.run.uid, "steps/00/transcript.log", b"setup done\n")

    project.store.transact(artifacts)
    plan_branch(Path(login.run.worktree), login.run.id, {"plan.md": PLAN_MD,
                                     "01-login-form.md": "# Login form\n\nAdd `login.py`.\n"})
    return {"login": login.run.uid, "pending": pending.run.uid, "docs": docs.run.uid}


@pytest.fixture
def runs_repo(project: Project, repo: Path, frozen_clock: None) -> tuple[Project, dict[str, str]]:
    return project, build_runs(project, repo)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
