"""`dflow workers` before Typer: what `cli/team/workers_cmds.py` prints, from what the read side
reads (reads/workers.py: the pool's record files and the open jobs' JSON, no models).
A record or a job that is not exactly what this dflow writes leaves the answer to the command
(docs/decisions/1310-reads-before-typer.md).
"""

from __future__ import annotations

from datetime import datetime

from .. import fast

HEADERS = ("worker", "pid", "host", "job", "kind", "run", "since")
NO_WORKERS = "no workers running; start some with `dflow worker`"


def print_fast(argv: list[str]) -> bool:
    """`dflow workers` (exactly); False when the command must answer."""
    if argv != ["workers"]:
        return False
    return fast.run("workers", _answer)


def _answer(common: str, tip: str) -> str | None:
    from ...reads.workers import pool_at

    read = pool_at(common, tip)
    if read is None:
        return None
    found, queue, names = read
    if not found:
        return f"{NO_WORKERS}\n{queue}\n"
    rows = [_row(w, names) for w in found]
    from ..table import print_table
    from ..text import console

    print_table(console(), HEADERS, rows)
    return queue + "\n"


def _row(w: dict[str, object], names: dict[str, str]) -> list[str]:
    from ..text import ago

    step = w.get("step")
    run = names.get(str(w.get("run") or "")) or str(w.get("run") or "-")
    run += f"/{step:02d}" if isinstance(step, int) else ""
    since = w["since"]
    assert isinstance(since, datetime)
    return [str(w["worker"]), str(w["pid"]), str(w["host"]), str(w.get("job") or "idle"),
            str(w.get("kind") or "-"), run, ago(since)]


__all__ = ["HEADERS", "NO_WORKERS", "print_fast"]
