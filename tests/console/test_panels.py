"""The workers panel and the settings view, and NO_COLOR."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from textual.app import App
from textual.filter import Monochrome, NoColor
from textual.widgets import DataTable, Static

from deksdenflow.console.screens.settings import SettingsScreen
from deksdenflow.console.screens.workers import WorkersScreen
from deksdenflow.workflow.lifecycle import controls

from .test_live import wait_until
from .test_navigation import app_for, cell_texts, press

pytestmark = pytest.mark.anyio

DFLOW = str(Path(sys.executable).with_name("dflow"))


async def test_w_lists_open_jobs_and_a_live_worker_when_one_runs(runs_repo, repo: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    project, _ = runs_repo
    controls.request_plan(project, "0002-fix-typo")
    async with app_for(project).run_test(size=(80, 24)) as pilot:
        await press(pilot, "w")
        screen = pilot.app.screen
        assert isinstance(screen, WorkersScreen)
        jobs = screen.query_one("#job-table", DataTable)
        assert cell_texts(jobs, 0)[1:5] == ["plan", "0002-fix-typo", "-", "requested"]
        head = screen.query_one("#workers-head", Static)
        assert "no worker pool running" in str(head.render())
        # A real pool on the same repository; only QA jobs, so it leaves the plan alone.
        pool = subprocess.Popen([DFLOW, "worker", "-j", "1", "--queue", "qa"], cwd=repo,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            workers = screen.query_one("#worker-table", DataTable)
            await wait_until(pilot, lambda: workers.row_count == 1, tries=300)
            assert cell_texts(workers, 0)[3] == "idle"
        finally:
            pool.send_signal(signal.SIGINT)
            pool.wait(timeout=60)


async def test_i_shows_project_toml_from_the_state_ref(runs_repo, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DFLOW_QA_POLICY", "end")
    project, _ = runs_repo
    async with app_for(project).run_test(size=(80, 24)) as pilot:
        await press(pilot, "i")
        screen = pilot.app.screen
        assert isinstance(screen, SettingsScreen)
        source = str(screen.query_one("#settings-source", Static).render())
        assert "project.toml on refs/deksdenflow/state" in source
        overrides = str(screen.query_one("#settings-overrides", Static).render())
        assert 'qa.policy = "end"  # from environment DFLOW_QA_POLICY' in overrides


async def test_no_color_makes_the_screen_monochrome(runs_repo, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    project, _ = runs_repo
    async with app_for(project).run_test(size=(80, 24)) as pilot:
        assert not _monochrome(pilot.app)
    monkeypatch.setenv("NO_COLOR", "1")
    async with app_for(project).run_test(size=(80, 24)) as pilot:
        assert _monochrome(pilot.app)


def _monochrome(app: App[None]) -> bool:
    return any(isinstance(f, (Monochrome, NoColor)) for f in app.get_line_filters())
