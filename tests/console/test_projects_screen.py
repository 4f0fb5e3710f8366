"""With more than one project registered, the console opens on the current repository's
runs with the projects screen one `escape` away (issue 25; issue 15 item 5): counts from the
state ref, the current repository preselected, Enter opens the one under the cursor."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from deksdenflow.console.app import DflowConsole
from deksdenflow.console.screens.projects import ProjectsScreen
from deksdenflow.console.screens.runs import RunsScreen
from deksdenflow.projects import onboarding
from deksdenflow.wiring import init_project
from deksdenflow.workflow.lifecycle import controls, runs
from tests.conftest import make_repo

from .conftest import FIXED_NOW, build_runs

pytestmark = pytest.mark.anyio


async def _press(pilot, *keys: str) -> None:  # type: ignore[no-untyped-def]
    for key in keys:
        await pilot.press(key)
        await pilot.pause()


def _row(table: DataTable[object], n: int) -> list[str]:
    return [str(c) for c in table.get_row_at(n)]


@pytest.fixture
def two_projects(tmp_path: Path, frozen_clock: None, isolated_env: Path) -> tuple[Path, Path]:
    """`alpha` with three runs (one blocked by QA, one paused); `beta` with one pending run."""
    alpha, beta = make_repo(tmp_path / "alpha"), make_repo(tmp_path / "beta")
    a, _ = init_project(alpha, engine="demo")
    b, _ = init_project(beta, engine="demo")
    uids = build_runs(a, alpha)
    controls.pause(a, uids["pending"])
    runs.create_run(b, "tidy", "Tidy the README", plan=False)
    for project in (a, b):
        onboarding.register(project)
    assert (isolated_env / ".config" / "dflow").is_dir()  # the temp config dir, not the user's
    return alpha, beta


async def test_the_console_opens_on_this_repository_s_runs_then_the_projects(
        two_projects: tuple[Path, Path]) -> None:
    alpha, beta = two_projects
    app = DflowConsole(beta, clock=lambda: FIXED_NOW, process_jobs=False)
    async with app.run_test(size=(100, 24)) as pilot:
        runs_here = pilot.app.screen
        assert isinstance(runs_here, RunsScreen) and app.root == beta
        assert _row(runs_here.query_one("#runs", DataTable), 0)[0] == "0001-tidy"
        await _press(pilot, "escape")
        screen = pilot.app.screen
        assert isinstance(screen, ProjectsScreen)
        table = screen.query_one("#projects", DataTable)
        assert table.row_count == 2
        # project, active, ready, failed, waiting for you, last activity, path
        assert _row(table, 0)[:5] == ["alpha", "1", "0", "0", "3"]
        assert _row(table, 1)[:5] == ["beta", "1", "0", "0", "1"]
        assert _row(table, 0)[5].endswith("ago") and _row(table, 0)[6] == str(alpha)
        assert table.cursor_row == 1  # beta: where the console was started


async def test_enter_opens_the_selected_project_and_escape_comes_back(
        two_projects: tuple[Path, Path]) -> None:
    alpha, beta = two_projects
    app = DflowConsole(beta, clock=lambda: FIXED_NOW, process_jobs=False)
    async with app.run_test(size=(100, 24)) as pilot:
        await _press(pilot, "escape", "up", "enter")
        screen = pilot.app.screen
        assert isinstance(screen, RunsScreen)
        assert app.root == alpha and app.sub_title == "alpha"
        table = screen.query_one("#runs", DataTable)
        assert [_row(table, n)[0] for n in range(table.row_count)] == [
            "0001-add-login", "0002-fix-typo", "0003-write-docs"]
        await _press(pilot, "escape")
        assert isinstance(pilot.app.screen, ProjectsScreen)
        await _press(pilot, "down", "enter")
        runs_of_beta = pilot.app.screen.query_one("#runs", DataTable)
        assert app.root == beta and _row(runs_of_beta, 0)[0] == "0001-tidy"


async def test_one_registered_project_opens_straight_on_its_runs(runs_repo) -> None:  # type: ignore[no-untyped-def]
    project, _ = runs_repo
    onboarding.register(project)
    app = DflowConsole(project.root, clock=lambda: FIXED_NOW, process_jobs=False)
    async with app.run_test(size=(100, 24)) as pilot:
        assert isinstance(pilot.app.screen, RunsScreen)
