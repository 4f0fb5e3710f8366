"""Live workers on this machine and the open jobs on the state ref."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from ...observe.watch import Change
from .. import actions, rows
from .base import StateScreen

WORKER_COLUMNS = ("worker", "pid", "host", "job", "run", "step", "since")
WORKERS_POLL_S = 1.0


class WorkersScreen(StateScreen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="workers-head")
        workers: DataTable[object] = DataTable(id="worker-table", cursor_type="row")
        for name in WORKER_COLUMNS:
            workers.add_column(name, key=name)
        yield workers
        yield Static(id="jobs-head")
        jobs: DataTable[object] = DataTable(id="job-table", cursor_type="row")
        for name in rows.JOB_COLUMNS:
            jobs.add_column(name, key=name)
        yield jobs
        yield Footer()

    def on_mount(self) -> None:
        self.show_workers()
        self.show_jobs()
        # Worker records are lock files in the git dir, not the ref: look at them now and then.
        self.set_interval(WORKERS_POLL_S, self.show_workers)

    def show_workers(self) -> None:
        found = actions.live_workers(self.console.project)
        table = self.query_one("#worker-table", DataTable)
        table.clear()
        for info in found:
            table.add_row(*worker_cells(info, self.console))
        busy = sum(1 for w in found if getattr(w, "job", None))
        inproc = len(self.console.processing)
        line = f"{len(found)} live workers, {busy} busy" if found else "no worker pool running"
        if inproc:
            line += f"; this console is working on {inproc} run(s)"
        if not found and not inproc:
            line += " (start one with `dflow worker`; otherwise this console does the work)"
        self.query_one("#workers-head", Static).update(line)

    def show_jobs(self) -> None:
        jobs = self.watcher.open_jobs()
        ids = {uid: snap.run.id for uid, snap in self.watcher.snapshots.items()}
        table = self.query_one("#job-table", DataTable)
        table.clear()
        for job in jobs:
            table.add_row(*rows.job_cells(job, ids))
        self.query_one("#jobs-head", Static).update(f"{len(jobs)} open jobs on the state ref")

    def state_changed(self, change: Change) -> None:
        if change.jobs:
            self.show_jobs()


def worker_cells(info: Any, app: Any) -> tuple[Text, ...]:
    since = getattr(info, "since", None)
    step = getattr(info, "step", None)
    return tuple(rows.plain(cell) for cell in (
        str(getattr(info, "worker", "-")),
        str(getattr(info, "pid", "-")),
        str(getattr(info, "host", "-")),
        str(getattr(info, "kind", None) or "idle"),
        str(getattr(info, "run_id", None) or "-"),
        f"{step:02d}" if isinstance(step, int) else "-",
        rows.ago(since, app.clock()) if since is not None else "-",
    ))
