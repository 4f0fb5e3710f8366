"""The console's Metrics screen shows the figures of `dflow report` (issue 14 item 4): totals,
a table per engine/model/…, tokens and cost per day, QA pass rate and errors by model."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Sparkline, Static

from deksdenflow.console.app import DflowConsole
from deksdenflow.console.screens.metrics import MetricsScreen
from deksdenflow.observe import report as reporting

from .conftest import FIXED_NOW

pytestmark = pytest.mark.anyio


def _rows(table: DataTable[object]) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(n)] for n in range(table.row_count)]


async def test_m_shows_the_report_figures_and_b_regroups_them(runs_repo) -> None:  # type: ignore[no-untyped-def]
    project, _ = runs_repo
    expected = reporting.for_project(project, by="model")
    assert expected.total.tokens == 4500 and expected.total.qa_fails == 1  # three steps, a FAIL
    app = DflowConsole(project.root, clock=lambda: FIXED_NOW, process_jobs=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m")
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, MetricsScreen)
        head = str(screen.query_one("#metrics-head", Static).render())
        assert "2 runs" in head and "4.5k tokens" in head and "$0.03" in head
        groups = screen.query_one("#metrics-groups", DataTable)
        assert [c.label.plain for c in groups.columns.values()][:4] == [
            "model", "steps", "attempts", "tokens"]
        assert _rows(groups)[0][:4] == ["demo-1", "3", "3", "4.5k"]
        assert _rows(groups)[-1][0] == "total"
        days = screen.query_one("#tokens-per-day", Sparkline)
        assert list(days.data or []) == [d.tokens for d in expected.days]
        rates = screen.query_one("#metrics-rates", DataTable)
        assert _rows(rates)[0][0] == "demo-1" and _rows(rates)[0][1].endswith("0%")
        await pilot.press("b")  # group by the next key: variant, step-type, engine, model
        await pilot.pause()
        assert [c.label.plain for c in groups.columns.values()][0] == "variant"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, MetricsScreen)


async def test_the_metrics_screen_of_a_project_without_spend_says_so(project) -> None:  # type: ignore[no-untyped-def]
    app = DflowConsole(project.root, clock=lambda: FIXED_NOW, process_jobs=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m")
        await pilot.pause()
        head = str(pilot.app.screen.query_one("#metrics-head", Static).render())
        assert "nothing spent yet" in head


async def test_the_cost_sparkline_is_empty_when_nothing_cost_money(project) -> None:  # type: ignore[no-untyped-def]
    """Before: $0.00 every day drew a full bar."""
    from deksdenflow.domain.eventlog.events import EventType
    from deksdenflow.workflow.lifecycle import runs

    from .conftest import emit_all, steps

    snap = runs.create_run(project, "free", "t", plan=False)
    emit_all(project, snap.run.uid, [
        (EventType.RUN_PLANNED, None, {"steps": steps("Only")}),
        (EventType.STEP_STARTED, 0, {"engine": "demo"}),
        (EventType.STEP_FINISHED, 0, {"next": "completed", "usage": {"input_tokens": 10}})])
    app = DflowConsole(project.root, clock=lambda: FIXED_NOW, process_jobs=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m")
        await pilot.pause()
        screen = pilot.app.screen
        assert list(screen.query_one("#cost-per-day", Sparkline).data or []) == []
        assert list(screen.query_one("#tokens-per-day", Sparkline).data or []) == [10.0]


def test_help_names_the_four_tabs() -> None:
    from deksdenflow.console.screens.help import help_text

    assert "1-4" in help_text() and "steps, plan, timeline, diff" in help_text()
    assert "1 2 3 " not in help_text()
