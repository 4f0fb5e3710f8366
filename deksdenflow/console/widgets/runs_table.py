"""The runs list's table: a DataTable that repaints one row when one run moves.

`DataTable.update_cell` bumps a counter that every render cache of the table is keyed on, so
one changed cell re-renders every visible row (~35 rows x 6 Rich cells, ~25 ms on the shared
VM) and leaves the old renders in the caches as garbage that the collector's full passes then
walk. A ref move changes one run: `set_row` forgets that row's renders only.
See docs/decisions/1335-the-console-repaints-the-moved-row.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowKey


class RunsTable(DataTable[object]):
    """A DataTable whose rows are replaced whole, repainting only the replaced row."""

    def set_row(self, key: str, cells: Sequence[object]) -> None:
        """Show `cells` (one per column, in column order) in the row `key`."""
        self.set_rows({key: cells})

    def set_rows(self, changed: Mapping[str, Sequence[object]]) -> None:
        """Show each row's new cells (one per column, in column order), dropping the cached
        renders of those rows only, in one pass over the caches (a sync can bring hundreds).
        A cell wider than its column widens it, which repaints every row (rare: a status
        seen first)."""
        columns = self.ordered_columns
        rows = {RowKey(key): cells for key, cells in changed.items()}
        for row_key in rows:
            if row_key not in self.rows:
                raise CellDoesNotExist(f"No row exists for row_key={row_key!r}.")
        wider = any(_width(value) > column.content_width for cells in rows.values()
                    for column, value in zip(columns, cells, strict=True))
        if wider or not self._forget_rows(set(rows)):
            for row_key, cells in rows.items():
                for column, value in zip(columns, cells, strict=True):
                    self.update_cell(row_key, column.key, value, update_width=True)
            return
        for row_key, cells in rows.items():
            row = self._data[row_key]
            for column, value in zip(columns, cells, strict=True):
                row[column.key] = value
            self.refresh_row(self.get_row_index(row_key))

    def _forget_rows(self, row_keys: set[RowKey]) -> bool:
        """Drop the cached renders of these rows; False when this DataTable keeps its caches
        otherwise than Textual 7-8 do (the caller then updates cell by cell: correct, slower)."""
        try:
            cells, rows, lines = (self._cell_render_cache, self._row_render_cache,
                                  self._line_cache)
            renderables, count = self._row_renderable_cache, self._update_count
            indexes = [self.get_row_index(row_key) for row_key in row_keys]
        except AttributeError:
            return False
        for cell in [key for key in list(cells.keys()) if key[0] in row_keys]:
            cells.discard(cell)
        for line in [key for key in list(rows.keys()) if key[0] in row_keys]:
            rows.discard(line)
        for index in indexes:
            renderables.discard((count, index))
        lines.clear()  # keyed by screen line; rebuilt from the rows' cached renders
        return True


def _width(value: object) -> int:
    return value.cell_len if isinstance(value, Text) else cell_len(str(value))
