"""The console follows the state ref: changes made by other processes appear on their own."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import DataTable

from deksdenflow.console.app import DflowConsole
from deksdenflow.console.screens.run_detail import RunDetailScreen
from deksdenflow.domain.eventlog.payloads import RunPaused
from deksdenflow.observe import refwatch, watch
from deksdenflow.observe.watch import StateWatcher
from deksdenflow.wiring import open_project

from ..conftest import git
from .conftest import FIXED_NOW
from .test_navigation import app_for, cell_texts, press

pytestmark = pytest.mark.anyio


def other_process(repo: Path, code: str) -> None:
    """Change the state from a separate Python process, as another terminal would."""
    script = "from deksdenflow.wiring import open_project\n" \
             "from deksdenflow.workflow.lifecycle import runs\n" \
             "from deksdenflow.domain.eventlog.payloads import RunPaused, StepQaVerdict\n" \
             "project = open_project('.')\n" + code
    subprocess.run([sys.executable, "-c", script], cwd=repo, check=True, timeout=60)


async def wait_until(pilot, check, tries: int = 100) -> None:  # type: ignore[no-untyped-def]
    for _ in range(tries):
        if check():
            return
        await pilot.pause(0.05)
    assert check()


async def test_a_run_created_by_another_process_appears(runs_repo, repo: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    project, _ = runs_repo
    async with app_for(project).run_test(size=(80, 24)) as pilot:
        table = pilot.app.screen.query_one("#runs", DataTable)
        assert table.row_count == 3
        other_process(repo, "runs.create_run(project, 'elsewhere', 'typed elsewhere', plan=False)")
        await wait_until(pilot, lambda: table.row_count == 4)
        assert cell_texts(table, 3)[:2] == ["0004-elsewhere", "waiting"]


async def test_the_open_run_detail_follows_a_step_finishing_elsewhere(  # type: ignore[no-untyped-def]
    runs_repo, repo: Path
) -> None:
    project, uids = runs_repo
    async with app_for(project).run_test(size=(80, 24)) as pilot:
        await press(pilot, "enter")
        screen = pilot.app.screen
        assert isinstance(screen, RunDetailScreen)
        steps = screen.query_one("#step-table", DataTable)
        events = screen.query_one("#event-table", DataTable)
        before = events.row_count
        other_process(repo, "project.store.transact(lambda tx: tx.emit(StepQaVerdict("
                            f"verdict='PASS'), run='{uids['login']}', step=1))")
        await wait_until(pilot, lambda: cell_texts(steps, 1)[3] == "completed")
        assert events.row_count == before + 1
        assert "step.qa_verdict" in cell_texts(events, events.row_count - 1)[2]


def test_watcher_rereads_only_the_runs_whose_snapshot_changed(runs_repo) -> None:  # type: ignore[no-untyped-def]
    project, uids = runs_repo
    watcher = StateWatcher(open_project(project.root))
    first = watcher.poll()
    assert first is not None and first.runs == set(uids.values())
    assert watcher.poll() is None  # nothing moved: one ref read, no tree walk
    project.store.transact(lambda tx: tx.emit(RunPaused(), run=uids["docs"]))
    change = watcher.poll()
    assert change is not None and change.runs == {uids["docs"]} and not change.settings
    assert watcher.run(uids["docs"]).run.paused  # type: ignore[union-attr]


def test_watcher_notices_a_fetch_that_brings_another_clones_state(  # type: ignore[no-untyped-def]
    runs_repo, repo: Path, tmp_path: Path
) -> None:
    project, uids = runs_repo
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    git("remote", "add", "origin", str(remote), cwd=repo)
    state = "refs/deksdenflow/state"
    git("push", "-q", "origin", f"{state}:{state}", cwd=repo)
    fetch = ["fetch", "-q", "origin", f"+{state}:refs/deksdenflow/remotes/origin/state"]
    git(*fetch, cwd=repo)
    watcher = StateWatcher(project, remote_every=1)
    watcher.poll()
    git(*fetch, cwd=repo)
    assert watcher.poll() is None  # the remote has nothing we lack
    clone = tmp_path / "clone"
    git("clone", "-q", str(remote), str(clone), cwd=tmp_path)
    git("fetch", "-q", "origin", f"{state}:{state}", cwd=clone)
    other = open_project(clone)
    other.store.transact(lambda tx: tx.emit(RunPaused(), run=uids["docs"]))
    git("push", "-q", "origin", f"{state}:{state}", cwd=clone)
    git(*fetch, cwd=repo)
    change = watcher.poll()
    assert change is not None and change.remote and not change.runs


async def test_a_ref_move_shows_at_once_through_the_ref_files_not_the_poll(  # type: ignore[no-untyped-def]
    runs_repo, repo: Path
) -> None:
    """The poll is set to a minute: only the watched ref files can bring the change in."""
    project, uids = runs_repo
    app = DflowConsole(project.root, clock=lambda: FIXED_NOW, process_jobs=False, poll_s=60)
    async with app.run_test(size=(80, 24)) as pilot:
        table = pilot.app.screen.query_one("#runs", DataTable)
        await pilot.pause(0.3)  # the watch is set up
        assert pilot.app.watching
        other_process(repo, f"project.store.transact(lambda tx: tx.emit(RunPaused(), "
                            f"run='{uids['docs']}'))")
        await wait_until(pilot, lambda: any("paused" in " ".join(cell_texts(table, row))
                                            for row in range(table.row_count)), tries=60)
        await pilot.pause()
        shown = "\n".join(table.render_line(y).text for y in range(table.size.height))
        assert "0003-write-docs  paused" in shown  # on the screen, not only in the table's data


def test_the_first_poll_reads_every_snapshot_with_the_collector_paused(runs_repo) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    """Each cyclic GC pass walks the console's whole heap; reading 1,000 snapshots set off
    several (docs/performance.md, "The console's first paint")."""
    project, uids = runs_repo
    watcher = StateWatcher(open_project(project.root))
    read_when: list[int] = []  # how many snapshots were in when a pass started, once reading

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and watcher.tip is not None:  # the tip is set first, then runs read
            read_when.append(len(watcher.snapshots))

    threshold = gc.get_threshold()
    gc.set_threshold(5)  # three snapshots' objects would now set off several passes
    gc.callbacks.append(count)
    try:
        watcher.poll()
    finally:
        gc.callbacks.remove(count)
        gc.set_threshold(*threshold)
    assert set(watcher.snapshots) == set(uids.values())
    assert [n for n in read_when if n < len(uids)] == []  # none while they were read
    assert gc.isenabled()


def test_the_collector_is_on_again_when_a_read_fails() -> None:
    with pytest.raises(ValueError), watch._collector_paused():
        raise ValueError("a snapshot could not be read")
    assert gc.isenabled()


def test_only_files_of_dflows_refs_wake_the_console(tmp_path: Path) -> None:
    git_dir = tmp_path / ".git"
    assert refwatch.is_ref_file(str(git_dir / "refs" / "deksdenflow" / "state"))
    assert refwatch.is_ref_file(str(git_dir / "packed-refs"))
    assert refwatch.is_ref_file(str(git_dir / "logs" / "refs" / "deksdenflow" / "state"))
    assert not refwatch.is_ref_file(str(git_dir / "refs" / "deksdenflow" / "state.lock"))
    assert not refwatch.is_ref_file(str(git_dir / "index"))
    assert not refwatch.is_ref_file(str(git_dir / "HEAD"))


async def test_a_run_created_from_the_cli_is_planned_without_a_key(project, repo: Path) -> None:  # type: ignore[no-untyped-def]
    """Before: with no worker pool, a run `dflow new` made in another terminal sat in
    planning until `r` was pressed in the console."""
    from deksdenflow.console.app import DflowConsole

    app = DflowConsole(project.root, clock=lambda: FIXED_NOW, process_jobs=True, poll_s=60)
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause(0.3)
        other_process(repo, "runs.create_run(project, 'from-cli', 'say hello')")

        def planned() -> bool:
            snap = project.view().find_run("from-cli") if project.view().run_names() else None
            return snap is not None and snap.run.planned

        await wait_until(pilot, planned, tries=200)
        await pilot.app.workers.wait_for_complete()
