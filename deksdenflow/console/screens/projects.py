"""The first screen when more than one project is registered: each project's runs at a
glance, the current repository's preselected; Enter opens that project's runs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from ...projects import overview
from ...projects.overview import ProjectSummary
from .. import rows
from .base import StateScreen

PROJECT_COLUMNS = ("project", "active", "ready", "failed", "waiting for you", "last activity",
                   "path")
REFRESH_S = 5.0  # other projects' refs are not watched; a cheap re-read now and then


class ProjectsScreen(StateScreen):
    BINDINGS = [Binding("enter", "open", "Open", show=True)]

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        table: DataTable[object] = DataTable(id="projects", cursor_type="row", zebra_stripes=True)
        for name in PROJECT_COLUMNS:
            table.add_column(name, key=name)
        yield table
        yield Static("enter: open the project · q: quit", id="projects-summary")
        yield Footer()

    def on_mount(self) -> None:
        self.reload(select=Path(self.console.root))
        self.table.focus()
        self.set_interval(REFRESH_S, self.reload)

    @property
    def table(self) -> DataTable[object]:
        return self.query_one("#projects", DataTable)

    def reload(self, select: Path | None = None) -> None:
        """Re-read every registered project, keeping the cursor on its project."""
        keep = Path(self.paths[self.table.cursor_row]) if self.paths and select is None else select
        lines = overview.summaries(self.console.project.parts)
        now = self.console.clock()
        self.table.clear()
        self.paths = [line.path for line in lines]
        for line in lines:
            self.table.add_row(*_cells(line, now), key=line.path)
        if keep is not None and str(keep.resolve()) in self.paths:
            self.table.move_cursor(row=self.paths.index(str(keep.resolve())))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        if self.paths:
            self.console.open_project_at(Path(self.paths[self.table.cursor_row]))


def _cells(line: ProjectSummary, now: datetime) -> tuple[object, ...]:
    if line.error:
        return (rows.plain(line.name), "-", "-", "-", "-", rows.plain(line.error[:40]),
                rows.plain(line.path))
    return (rows.plain(line.name), str(line.runs_active), str(line.runs_ready),
            str(line.runs_failed), str(line.waiting), rows.plain(rows.ago(line.last_activity, now)),
            rows.plain(line.path))
