"""How the main screens look at 80x24 (SVG snapshots; review their diffs like code).

Event times come from the frozen clock and the console's clock is FIXED_NOW, so nothing on
these screens changes from run to run. Update with `pytest tests/console --snapshot-update`.
"""

from __future__ import annotations

from deksdenflow.console.app import DflowConsole

from .conftest import FIXED_NOW

SIZE = (80, 24)


def app_for(runs_repo) -> DflowConsole:  # type: ignore[no-untyped-def]
    project, _ = runs_repo
    return DflowConsole(project.root, clock=lambda: FIXED_NOW, process_jobs=False)


def test_runs_list(runs_repo, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(runs_repo), terminal_size=SIZE)


def test_run_detail_steps(runs_repo, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(runs_repo), press=["enter", "_"], terminal_size=SIZE)


def test_run_detail_plan(runs_repo, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(runs_repo), press=["enter", "_", "2", "_"], terminal_size=SIZE)


def test_run_detail_timeline(runs_repo, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(runs_repo), press=["enter", "_", "3", "_"], terminal_size=SIZE)


def test_step_detail_of_a_failed_qa(runs_repo, snap_compare) -> None:  # type: ignore[no-untyped-def]
    press = ["down", "down", "enter", "_", "enter", "_"]
    assert snap_compare(app_for(runs_repo), press=press, terminal_size=SIZE)


def test_help(runs_repo, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(runs_repo), press=["question_mark", "_"], terminal_size=SIZE)


def test_new_run_form(runs_repo, snap_compare) -> None:  # type: ignore[no-untyped-def]
    press = ["n", "_", *"Add Search", "tab", *"Search the docs", "_"]
    assert snap_compare(app_for(runs_repo), press=press, terminal_size=SIZE)
