"""The first screen: every protocol run, filterable with `/`, sortable with `S`."""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Static

from ...domain.models import RunSnapshot
from .. import rows
from ..watch import Change
from .base import StateScreen

AGES_S = 15.0


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
        self.shown: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="filter: words in id, status, engine or task", id="filter")
        table: DataTable[object] = DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        for name in rows.RUN_COLUMNS:
            table.add_column(name, key=name)
        yield table
        yield Static(id="runs-summary")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.rebuild()
        self.table.focus()
        self.set_interval(AGES_S, self.refresh_ages)

    @property
    def table(self) -> DataTable[object]:
        return self.query_one("#runs", DataTable)

    def visible_runs(self) -> list[RunSnapshot]:
        snaps = [s for s in self.watcher.runs() if rows.matches(s, self.query_text)]
        return sorted(snaps, key=rows.sort_key(self.sort))

    def cells(self, snap: RunSnapshot, now: datetime) -> tuple[object, ...]:
        return rows.run_cells(snap, now, self.console.engine)

    def rebuild(self) -> None:
        """Fill the table from scratch (start, filter, sort), keeping the cursor's run."""
        table = self.table
        keep = self.target()[0]
        now = self.console.clock()
        snaps = self.visible_runs()
        table.clear()
        for snap in snaps:
            table.add_row(*self.cells(snap, now), key=snap.run.uid)
        self.shown = [s.run.uid for s in snaps]
        if keep in self.shown:
            table.move_cursor(row=self.shown.index(keep), animate=False)
        self.show_summary()

    def show_summary(self) -> None:
        total = len(self.watcher.snapshots)
        parts = [f"{len(self.shown)} of {total} runs" if self.query_text else f"{total} runs",
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
        table = self.table
        for uid in sorted(change.runs - set(new)):
            snap = self.watcher.run(uid)
            if snap is not None:
                for column, value in zip(rows.RUN_COLUMNS, self.cells(snap, now), strict=True):
                    table.update_cell(uid, column, value)
        for snap in self.watcher.runs()[len(self.shown):]:
            table.add_row(*self.cells(snap, now), key=snap.run.uid)
            self.shown.append(snap.run.uid)
        self.show_summary()

    def refresh_ages(self) -> None:
        """'updated 3m ago' must age even when nothing moves on the ref."""
        now = self.console.clock()
        for uid in self.shown:
            snap = self.watcher.run(uid)
            if snap is not None:
                self.table.update_cell(uid, "updated", rows.ago(snap.run.updated_at, now))

    def target(self) -> tuple[str | None, int | None]:
        table = self.table
        if not self.shown or table.cursor_row < 0 or table.cursor_row >= len(self.shown):
            return None, None
        return self.shown[table.cursor_row], None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        from .run_detail import RunDetailScreen

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
        box = self.query_one("#filter", Input)
        if box.value:
            box.value = ""
        box.display = False
        self.table.focus()

    def action_sort(self) -> None:
        self.sort = rows.SORTS[(rows.SORTS.index(self.sort) + 1) % len(rows.SORTS)]
        self.rebuild()


def _appends(ordered: list[RunSnapshot], shown: list[str], new: list[str]) -> bool:
    """Do the new runs sort after every shown one (so they can simply be appended)?"""
    uids = [s.run.uid for s in ordered]
    return uids[: len(shown)] == shown and set(uids[len(shown) :]) == set(new)
