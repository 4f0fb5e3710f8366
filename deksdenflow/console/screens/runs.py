"""The first screen: every protocol run, filterable with `/`, sortable with `S`."""

from __future__ import annotations

import time
from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Static

from ...domain.config.settings import ProjectSettings
from ...domain.runs.models import RunSnapshot
from ...observe.watch import Change
from .. import rows
from ..widgets.runs_table import RunsTable
from .base import StateScreen
from .projects import ProjectsScreen
from .run_detail import RunDetailScreen

AGES_S = 15.0
FIRST_ROWS = 100  # more than any terminal shows at once
CHUNK_ROWS = 300


class RunsScreen(StateScreen):
    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("S", "sort", "Sort", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.query_text = ""
        self.sort = "id"
        self.shown: list[str] = []  # run uids in display order; the first `loaded` are rows
        self.loaded = 0
        self.generation = 0
        self.painted_at = self.painted_cpu = 0.0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="filter: words in id, status, engine or task", id="filter")
        table = RunsTable(id="runs", cursor_type="row", zebra_stripes=True)
        for name in rows.RUN_COLUMNS:
            table.add_column(name, key=name)
        yield table
        yield Static(id="runs-summary")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.rebuild()
        self.table.focus()
        self.call_after_refresh(self._painted)
        self.set_interval(AGES_S, self.refresh_ages)

    def _painted(self) -> None:
        # What benchmarks/console.py reports as the first full paint.
        self.painted_at, self.painted_cpu = time.perf_counter(), time.process_time()

    @property
    def table(self) -> RunsTable:
        return self.query_one("#runs", RunsTable)

    def visible_runs(self) -> list[RunSnapshot]:
        settings = self._settings()
        snaps = [s for s in self.watcher.runs() if rows.matches(s, self.query_text, settings)]
        return sorted(snaps, key=rows.sort_key(self.sort, settings))

    def cells(self, snap: RunSnapshot, now: datetime) -> tuple[object, ...]:
        return rows.run_cells(snap, now, self._settings(), self.console.engine)

    def _settings(self) -> ProjectSettings:
        """The effective settings (cached by the project under its settings key): why a run
        waits, and so its stage, is decided with them."""
        return self.console.project.settings(self.watcher.view)

    def rebuild(self) -> None:
        """Fill the table from scratch (start, filter, sort), keeping the cursor's run.

        The first screenful goes in at once and the rest in chunks after each refresh, so
        the screen is complete long before a long list is (docs/performance.md, "Console").
        """
        keep = self.target()[0]
        self.shown = [s.run.uid for s in self.visible_runs()]
        self.loaded = 0
        self.generation += 1
        self.table.clear()
        first = max(FIRST_ROWS, self.shown.index(keep) + 1 if keep in self.shown else 0)
        self.load_rows(first)
        if keep in self.shown:
            self.table.move_cursor(row=self.shown.index(keep), animate=False)
        self.show_summary()

    def load_rows(self, count: int, generation: int | None = None) -> None:
        """Add the next `count` shown runs to the table; schedule the rest."""
        if generation is not None and generation != self.generation:
            return  # a newer rebuild started over
        now = self.console.clock()
        for uid in self.shown[self.loaded : self.loaded + count]:
            snap = self.watcher.run(uid)
            if snap is not None:
                self.table.add_row(*self.cells(snap, now), key=uid)
        self.loaded = min(len(self.shown), self.loaded + count)
        if self.loaded < len(self.shown):
            self.call_after_refresh(self.load_rows, CHUNK_ROWS, self.generation)

    @property
    def is_loaded(self) -> bool:
        return self.loaded >= len(self.shown)

    def show_summary(self) -> None:
        total = len(self.watcher.snapshots)
        noun = "run" if total == 1 else "runs"
        parts = [f"{len(self.shown)} of {total} {noun}" if self.query_text else f"{total} {noun}",
                 f"sorted by {self.sort}"]
        if self.query_text:
            parts.append(f"filter '{self.query_text}' (esc clears)")
        if not total:
            parts = ["no protocol runs yet; press n to start one"]
        self.query_one("#runs-summary", Static).update(" · ".join(parts))

    def state_changed(self, change: Change) -> None:
        if not (change.runs or change.removed):
            return
        in_place = self.sort == "id" and not self.query_text and not change.removed
        new = [uid for uid in change.runs if uid not in self.shown]
        if not in_place or (new and not _appends(self.watcher.runs(), self.shown, new)):
            self.rebuild()
            return
        now = self.console.clock()
        loaded = set(self.shown[: self.loaded])
        moved = {uid: self.watcher.run(uid) for uid in change.runs & loaded}
        self.table.set_rows({uid: self.cells(snap, now)  # repaints these rows only
                             for uid, snap in moved.items() if snap is not None})
        if not new:
            return
        done = self.is_loaded
        self.shown.extend(s.run.uid for s in self.watcher.runs()[len(self.shown) :])
        if done:  # else the loader reaches the new runs on its own
            self.load_rows(len(self.shown) - self.loaded)
        self.show_summary()

    def refresh_ages(self) -> None:
        """'updated 3m ago' must age even when nothing moves on the ref."""
        now, table = self.console.clock(), self.table
        for uid in self.shown[: self.loaded]:
            snap = self.watcher.run(uid)
            if snap is not None:
                when = rows.ago(snap.run.updated_at, now)
                if str(table.get_cell(uid, "updated")) != when:  # each update repaints all
                    table.update_cell(uid, "updated", rows.plain(when))

    def target(self) -> tuple[str | None, int | None]:
        table = self.table
        if not self.loaded or not 0 <= table.cursor_row < self.loaded:
            return None, None
        return self.shown[table.cursor_row], None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:

        if event.row_key.value:
            self.app.push_screen(RunDetailScreen(event.row_key.value))

    # --- filter and sort -------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_text = event.value.strip()
        self.rebuild()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#filter", Input).display = bool(self.query_text)
        self.table.focus()

    def action_clear_filter(self) -> None:
        """Escape: clear the filter; with none, back to the projects screen (if it is below)."""
        box = self.query_one("#filter", Input)
        if not box.value and not box.display and self._over_projects():
            self.app.pop_screen()
            return
        if box.value:
            box.value = ""
        box.display = False
        self.table.focus()

    def _over_projects(self) -> bool:

        stack = self.app.screen_stack
        return len(stack) > 1 and isinstance(stack[-2], ProjectsScreen)

    def action_sort(self) -> None:
        self.sort = rows.SORTS[(rows.SORTS.index(self.sort) + 1) % len(rows.SORTS)]
        self.rebuild()


def _appends(ordered: list[RunSnapshot], shown: list[str], new: list[str]) -> bool:
    """Do the new runs sort after every shown one (so they can simply be appended)?"""
    uids = [s.run.uid for s in ordered]
    return uids[: len(shown)] == shown and set(uids[len(shown) :]) == set(new)
