"""The runs table repaints the one row whose run moved, and shows it as it now is."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.app import App, ComposeResult

from deksdenflow.console.widgets.runs_table import RunsTable

pytestmark = pytest.mark.anyio

COLUMNS = ("id", "status", "steps")
ROWS = 200  # more than the 12-line screen shows


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        table = RunsTable(id="runs", cursor_type="row", zebra_stripes=True)
        for name in COLUMNS:
            table.add_column(name, key=name)
        for n in range(ROWS):
            table.add_row(f"run-{n:03d}", "pending", "0/3", key=f"uid-{n}")
        yield table


def screen_text(table: RunsTable) -> str:
    return "\n".join(table.render_line(y).text for y in range(table.size.height))


async def test_set_row_shows_the_new_cells_and_renders_no_other_row() -> None:
    async with TableApp().run_test(size=(60, 12)) as pilot:
        table = pilot.app.query_one(RunsTable)
        await pilot.pause()
        assert "run-003  pending" in screen_text(table)
        cells = table._cell_render_cache  # the rendered cells, by row, column and styles
        others = {key for key in list(cells.keys()) if key[0] != "uid-3"}
        table.set_row("uid-3", ("run-003", "running", "1/3"))
        await pilot.pause()
        shown = screen_text(table)
        assert "run-003  running  1/3" in shown
        assert "run-004  pending" in shown and "run-002  pending" in shown
        # no other row was rendered again (update_cell re-renders all 11 rows on screen)
        assert {key for key in list(cells.keys()) if key[0] != "uid-3"} == others
        assert len([key for key in list(cells.keys()) if key[0] == "uid-3"]) == len(COLUMNS)
        assert [str(c) for c in table.get_row("uid-3")] == ["run-003", "running", "1/3"]


async def test_many_rows_set_at_once_each_show_and_no_other_is_rendered_again() -> None:
    async with TableApp().run_test(size=(60, 12)) as pilot:
        table = pilot.app.query_one(RunsTable)
        await pilot.pause()
        assert "run-001  pending" in screen_text(table)
        cells = table._cell_render_cache
        moved = {f"uid-{n}" for n in (1, 4, 7, 120)}
        others = {key for key in list(cells.keys()) if key[0].value not in moved}
        table.set_rows({key: (f"run-{int(key[4:]):03d}", "failed", "2/3") for key in moved})
        await pilot.pause()
        shown = screen_text(table)
        assert all(f"run-{n:03d}  failed   2/3" in shown for n in (1, 4, 7))
        assert "run-003  pending  0/3" in shown
        assert {key for key in list(cells.keys()) if key[0].value not in moved} == others
        assert str(table.get_cell("uid-120", "status")) == "failed"


async def test_a_cell_wider_than_its_column_widens_it() -> None:
    async with TableApp().run_test(size=(60, 12)) as pilot:
        table = pilot.app.query_one(RunsTable)
        await pilot.pause()
        table.set_row("uid-3", ("run-003", Text("running (paused)"), "1/3"))
        await pilot.pause()
        shown = screen_text(table)
        assert "run-003  running (paused)  1/3" in shown  # not cut to the old width
        assert "run-004  pending           0/3" in shown


async def test_a_row_set_out_of_sight_shows_when_scrolled_to() -> None:
    async with TableApp().run_test(size=(60, 12)) as pilot:
        table = pilot.app.query_one(RunsTable)
        await pilot.pause()
        table.move_cursor(row=150, animate=False)
        await pilot.pause()
        assert "run-150  pending" in screen_text(table)
        table.move_cursor(row=0, animate=False)
        await pilot.pause()
        table.set_row("uid-150", ("run-150", "failed", "2/3"))
        await pilot.pause()
        table.move_cursor(row=150, animate=False)
        await pilot.pause()
        assert "run-150  failed" in screen_text(table)


async def test_set_row_of_an_unknown_run_says_so() -> None:
    from textual.widgets.data_table import CellDoesNotExist

    async with TableApp().run_test(size=(60, 12)) as pilot:
        table = pilot.app.query_one(RunsTable)
        with pytest.raises(CellDoesNotExist):
            table.set_row("uid-nope", ("x", "y", "z"))
