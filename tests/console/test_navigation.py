"""Moving around the console with the keyboard, against a real repository."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Log, Markdown, Static

from deksdenflow.console.app import DflowConsole
from deksdenflow.console.screens.run_detail import RunDetailScreen
from deksdenflow.console.screens.runs import RunsScreen
from deksdenflow.console.screens.step_detail import StepDetailScreen
from deksdenflow.context.project import Project

from .conftest import FIXED_NOW

pytestmark = pytest.mark.anyio


def app_for(project: Project) -> DflowConsole:
    return DflowConsole(project.root, clock=lambda: FIXED_NOW, process_jobs=False)


async def press(pilot, *keys: str) -> None:  # type: ignore[no-untyped-def]
    """Press keys one by one, letting each key's messages (a pushed screen, say) settle."""
    for key in keys:
        await pilot.press(key)
        await pilot.pause()


def cell_texts(table: DataTable[object], row: int) -> list[str]:
    return [str(c) for c in table.get_row_at(row)]


async def test_runs_list_shows_every_run_with_status_and_steps(runs_repo) -> None:  # type: ignore[no-untyped-def]
    project, _ = runs_repo
    async with app_for(project).run_test(size=(80, 24)) as pilot:
        table = pilot.app.screen.query_one("#runs", DataTable)
        assert table.row_count == 3
        assert cell_texts(table, 0)[:4] == ["0001-add-login", "waiting", "1/3", "demo"]
        assert cell_texts(table, 1)[:3] == ["0002-fix-typo", "waiting", "0/0"]
        assert cell_texts(table, 2)[:3] == ["0003-write-docs", "blocked", "0/1"]


async def test_enter_opens_the_run_and_its_step_then_escape_goes_back(runs_repo) -> None:  # type: ignore[no-untyped-def]
    project, uids = runs_repo
    async with app_for(project).run_test(size=(80, 24)) as pilot:
        await press(pilot, "enter")
        screen = pilot.app.screen
        assert isinstance(screen, RunDetailScreen) and screen.uid == uids["login"]
        steps = screen.query_one("#step-table", DataTable)
        assert [cell_texts(steps, i)[3] for i in range(3)] == ["completed", "needs_qa", "pending"]
        assert screen.target() == (uids["login"], 1)  # the cursor starts on the first open step
        await press(pilot, "2")
        await pilot.pause()
        plan = screen.query_one("#plan-md", Markdown)
        assert "Add a login page" in plan.source
        await press(pilot, "1", "enter")
        step = pilot.app.screen
        assert isinstance(step, StepDetailScreen) and step.index == 1
        head = str(step.query_one("#step-head", Static).render())
        assert "needs_qa" in head and "demo/demo-1" in head
        await press(pilot, "escape", "escape")
        assert isinstance(pilot.app.screen, RunsScreen)


async def test_step_logs_are_searchable(runs_repo) -> None:  # type: ignore[no-untyped-def]
    project, _ = runs_repo
    async with app_for(project).run_test(size=(80, 24)) as pilot:
        await press(pilot, "enter", "enter", "3")
        step = pilot.app.screen
        assert isinstance(step, StepDetailScreen)
        assert step.names == ["steps/01/transcript.log"]
        await press(pilot, "slash", *"error")
        await pilot.pause()
        log = step.query_one("#artifact-log", Log)
        assert list(log.lines) == ["   41: ERROR: flaky test"]


async def test_slash_filters_and_escape_clears(runs_repo) -> None:  # type: ignore[no-untyped-def]
    project, _ = runs_repo
    async with app_for(project).run_test(size=(80, 24)) as pilot:
        await press(pilot, "slash", *"blocked", "enter")
        table = pilot.app.screen.query_one("#runs", DataTable)
        assert table.row_count == 1 and cell_texts(table, 0)[0] == "0003-write-docs"
        await press(pilot, "escape")
        assert table.row_count == 3


async def test_capital_s_cycles_the_sort_order(runs_repo) -> None:  # type: ignore[no-untyped-def]
    project, _ = runs_repo
    async with app_for(project).run_test(size=(80, 24)) as pilot:
        await press(pilot, "S")  # by status: blocked, then the two waiting ones
        table = pilot.app.screen.query_one("#runs", DataTable)
        assert [cell_texts(table, i)[1] for i in range(3)] == ["blocked", "waiting", "waiting"]


async def test_slash_filters_on_the_words_the_table_shows(runs_repo) -> None:  # type: ignore[no-untyped-def]
    """`/ready` and `/merged` find the runs shown so (before: only `/completed` did)."""
    from deksdenflow.domain.eventlog.events import EventType
    from deksdenflow.workflow.lifecycle import runs

    from .conftest import emit_all, steps

    project, _ = runs_repo
    done = {"summary": "done", "next": "completed", "duration_s": 1.0}
    for name in ("ready-one", "merged-one"):
        snap = runs.create_run(project, name, "t", plan=False)
        emit_all(project, snap.run.uid, [
            (EventType.RUN_PLANNED, None, {"steps": steps("Only")}),
            (EventType.STEP_STARTED, 0, {"engine": "demo"}), (EventType.STEP_FINISHED, 0, done),
            *([(EventType.RUN_MERGED, None, {})] if name == "merged-one" else []),
        ])
    async with app_for(project).run_test(size=(100, 24)) as pilot:
        table = pilot.app.screen.query_one("#runs", DataTable)
        assert [cell_texts(table, i)[1] for i in (3, 4)] == ["ready to land", "merged"]
        for word, run in (("ready", "0004-ready-one"), ("merged", "0005-merged-one"),
                          ("land", "0004-ready-one")):
            await press(pilot, "slash", *word, "enter")
            assert [cell_texts(table, i)[0] for i in range(table.row_count)] == [run], word
            await press(pilot, "escape")
        await press(pilot, "slash", *"completed", "enter")
        assert table.row_count == 0  # the machine word is not what the table shows


def test_a_step_s_logs_are_its_own_transcripts_only(runs_repo) -> None:  # type: ignore[no-untyped-def]
    """Before: a step without logs listed all of the run's, and step 2 took another step's
    `…-2.log` (an attempt number) for its own."""
    from deksdenflow.workflow.lifecycle import documents

    project, uids = runs_repo
    job, plan = "01M99GTAWHFSYK5SB7K40T89V8", "01M99GTAWHFSYK5SB7K40T89V0"
    names = [f"transcripts/01-execute-{job}-2.log", f"transcripts/01-qa-{job}.log",
             f"transcripts/plan-{plan}.log", f"transcripts/00-execute-{job}-1.log"]
    project.store.transact(lambda tx: [tx.put_artifact(uids["login"], n, b"x\n")
                                       for n in names])
    view = project.view()
    snap = view.run(uids["login"])
    assert sorted(documents.step_artifacts(view, snap, 1)) == [
        "steps/01/transcript.log", f"transcripts/01-execute-{job}-2.log",
        f"transcripts/01-qa-{job}.log"]
    assert documents.step_artifacts(view, snap, 2) == []
    assert documents.step_artifacts(view, snap, 0) == [
        f"transcripts/00-execute-{job}-1.log", "steps/00/transcript.log"]
