"""Snapshots -> table cells for the console (Rich text, no textual).

The CLI's status table and the console show the same figures from the same snapshots; the
colours come from STATUS_STYLE (wording.py, shared with the CLI), and a status is always
spelled out in words so that nothing depends on colour (NO_COLOR).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from ..domain.config.settings import ProjectSettings
from ..domain.eventlog.events import Event
from ..domain.runs.models import Job, RunSnapshot, StepRun
from ..wording import STATUS_STYLE, ago, tokens
from ..workflow.lifecycle.runs import run_stage

Clock = Callable[[], datetime]

RUN_COLUMNS = ("id", "status", "steps", "engine", "cost", "updated")
STEP_COLUMNS = ("#", "type", "title", "status", "tries", "tokens", "cost", "time")
EVENT_COLUMNS = ("time", "step", "event", "actor", "detail")
JOB_COLUMNS = ("job", "kind", "run", "step", "status", "worker", "tries")
SORTS = ("id", "status", "updated", "cost")

__all__ = ["ago", "tokens"]  # re-exported for the screens


def now_utc() -> datetime:
    return datetime.now(UTC)


def status_text(status: str, paused: bool = False) -> Text:
    text = Text(status, style=STATUS_STYLE.get(status, ""))
    if paused:
        text.append(" (paused)", style="yellow")
    return text


def stage_text(snap: RunSnapshot, settings: ProjectSettings) -> Text:
    """The run's stage, the word the CLI shows too (domain/runs/stages.py)."""
    stage = run_stage(snap, settings)
    return Text(stage, style=STATUS_STYLE.get(stage, ""))


def plain(value: str) -> Text:
    """A cell as literal text: what a run or an agent wrote is never read as Rich markup."""
    return Text(value)


def money(cost: float | None) -> str:
    return f"${cost:.2f}" if cost else "-"


def duration(seconds: float) -> str:
    if seconds <= 0:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def run_cells(snap: RunSnapshot, now: datetime, settings: ProjectSettings,
              engine: str = "-") -> tuple[Any, ...]:
    """One row of the runs list; `engine` is the project's when the run names none."""
    run = snap.run
    return (
        plain(run.id),
        stage_text(snap, settings),
        plain(f"{snap.steps_done}/{len(snap.steps)}"),
        plain(run.engine or engine),
        plain(money(run.cost)),
        plain(ago(run.updated_at, now)),
    )


def sort_key(column: str, settings: ProjectSettings) -> Callable[[RunSnapshot], Any]:
    """Newest first for time and cost; otherwise ascending."""
    far = datetime.min.replace(tzinfo=UTC)
    keys: dict[str, Callable[[RunSnapshot], Any]] = {
        "id": lambda s: (s.run.number, s.run.uid),
        "status": lambda s: (run_stage(s, settings), s.run.number),
        "updated": lambda s: (-(s.run.updated_at or far).timestamp(), s.run.number),
        "cost": lambda s: (-s.run.cost, s.run.number),
    }
    return keys[column]


def matches(snap: RunSnapshot, query: str, settings: ProjectSettings) -> bool:
    """The `/` filter: every word must appear in the id, the stage shown, engine or task."""
    run = snap.run
    hay = " ".join((run.id, run_stage(snap, settings), run.engine or "", run.task)).lower()
    return all(word in hay for word in query.lower().split())


def step_cells(step: StepRun) -> tuple[Any, ...]:
    return (
        plain(f"{step.index:02d}"),
        plain(step.type.value),
        plain(step.title or step.file or "-"),
        status_text(step.status.value),
        plain(str(step.attempts)),
        plain(tokens(step.usage.total)),
        plain(money(step.cost)),
        plain(duration(step.duration_s)),
    )


_DETAIL_KEYS = ("kind", "verdict", "status", "reason", "text", "summary", "error", "url", "name")


def event_detail(data: dict[str, Any], width: int = 60) -> str:
    parts = [f"{k}={data[k]}" for k in _DETAIL_KEYS if data.get(k) not in (None, "")]
    text = " ".join(parts).replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def event_cells(event: Event) -> tuple[Any, ...]:
    return (
        plain(f"{event.at:%H:%M:%S}"),
        plain(f"{event.step:02d}" if event.step is not None else "-"),
        Text(event.type.value, style=_event_style(event.type.value)),
        plain(event.actor),
        plain(event_detail(event.data.model_dump(mode="json"))),
    )


def _event_style(kind: str) -> str:
    if kind.endswith(("failed", "blocked", "cancelled", "plan_failed")):
        return "red"
    if kind.endswith(("finished", "planned", "approved", "merged")):
        return "green"
    return ""


def job_cells(job: Job, run_ids: dict[str, str]) -> tuple[Any, ...]:
    return (
        plain(job.id[-8:].lower()),
        plain(job.kind.value),
        plain(run_ids.get(job.run or "", "-")),
        plain(f"{job.step:02d}" if job.step is not None else "-"),
        Text(job.status.value, style="blue" if job.status.value == "claimed" else "dim"),
        plain(job.claimed_by or "-"),
        plain(str(job.attempts)),
    )
