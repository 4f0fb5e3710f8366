"""`dflow workers`: the live workers and the queue, without loading the pool or the runner."""

from __future__ import annotations

import typer

from ...jobs import workers as live
from ...wiring import open_project
from ..render import JSON_OPTION, ago, console, emit_json
from ..table import print_table
from .workers_fast import HEADERS, NO_WORKERS


def workers(json_: bool = JSON_OPTION) -> None:
    """List the live workers of this repository and the job each one runs.

    Example: dflow workers --json
    """
    project = open_project()
    found = live.live_workers(project)
    if json_:
        emit_json(found)
        return
    q = live.queue_summary(project)
    waiting = f" ({q.delayed} waiting to retry)" if q.delayed else ""
    queue_line = f"queue: {q.requested} requested{waiting}, {q.claimed} claimed"
    if not found:
        typer.echo(f"{NO_WORKERS}\n{queue_line}")
        return
    rows = []
    for w in found:
        run = (w.run_id or w.run or "-") + (f"/{w.step:02d}" if w.step is not None else "")
        rows.append([w.worker, str(w.pid), w.host, w.job or "idle", w.kind or "-", run,
                     ago(w.since)])
    print_table(console(), HEADERS, rows)  # what Table(*HEADERS, box=None) prints
    typer.echo(queue_line)


def register(app: typer.Typer) -> None:
    app.command()(workers)
