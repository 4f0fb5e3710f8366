"""How dflow words statuses, times and token counts: shared by the CLI and the console, which
are on the same floor and so may not import each other (docs/architecture.md)."""

from __future__ import annotations

from datetime import UTC, datetime

STATUS_STYLE = {
    "pending": "dim",
    "planning": "cyan",
    "planned": "cyan",
    "running": "blue",
    "needs_qa": "magenta",
    "completed": "green",
    "blocked": "yellow",
    "failed": "red",
    "cancelled": "dim",
    # the stages people see (domain/runs/stages.py) that are not also a status
    "waiting": "magenta",
    "paused": "yellow",
    "ready to land": "green",
    "merged": "green",
}


def ago(when: datetime | None, now: datetime | None = None) -> str:
    if when is None:
        return "-"
    seconds = int(((now or datetime.now(UTC)) - when).total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)}s ago"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 86400:
        return f"{seconds // 3600}h ago"
    return when.strftime("%Y-%m-%d")


def tokens(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 1000 else str(n)
