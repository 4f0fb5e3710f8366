"""The Diff tab on the run and step screens: the files, the patch, the QA findings beside it."""

from __future__ import annotations

import pytest
from textual.widgets import OptionList

from deksdenflow.console.app import DflowConsole
from deksdenflow.console.screens.run_detail import RunDetailScreen
from deksdenflow.console.screens.step_detail import StepDetailScreen
from deksdenflow.console.widgets.diff_view import DiffView
from deksdenflow.context.project import Project
from deksdenflow.workflow.lifecycle import controls, runs

from .conftest import FIXED_NOW
from .test_snapshots import SIZE, app_for

pytestmark = pytest.mark.anyio


async def press(pilot, *keys: str) -> None:  # type: ignore[no-untyped-def]
    for key in keys:
        await pilot.press(key)
        await pilot.pause()


def options(view: DiffView) -> list[str]:
    found = view.query_one("#diff-files", OptionList)
    return [str(found.get_option_at_index(i).prompt) for i in range(found.option_count)]


async def test_diff_tab_shows_the_runs_files_and_a_steps_change_with_findings(
        project: Project) -> None:
    snap = runs.create_run(project, "hello", "say hello")
    controls.run_until_settled(project, snap.run.id, "w-test", True)
    app = DflowConsole(project.root, clock=lambda: FIXED_NOW, process_jobs=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await press(pilot, "enter", "4")
        screen = pilot.app.screen
        assert isinstance(screen, RunDetailScreen)
        labels = options(screen.query_one(DiffView))
        assert labels[0] == "all files (9)"
        assert "demo_hello.py  +10 -0" in labels
        await press(pilot, "1", "enter", "4")
        step = pilot.app.screen
        assert isinstance(step, StepDetailScreen) and step.index == 1
        view = step.query_one(DiffView)
        assert options(view) == ["all files (1)", "demo_hello.py  +10 -0"]
        assert "def greet" in view.patch
        await press(pilot, "down", "down")  # the file list: past "all files" to the file
        assert view.shown == "demo_hello.py"
        await press(pilot, "up")
        assert view.shown is None


def test_diff_tab_of_a_run(runs_repo, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(runs_repo), press=["enter", "_", "4", "_"], terminal_size=SIZE)
