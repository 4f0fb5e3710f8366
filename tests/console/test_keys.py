"""Each key calls the same library as the CLI: its effect lands on the state ref, and an
action that does not apply shows the CLI's own sentence as a notification."""

from __future__ import annotations

from typing import Any

import pytest

from deksdenflow.console.app import DflowConsole
from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.events import EventType
from deksdenflow.domain.runs.models import JobKind, RunSnapshot

from .conftest import FIXED_NOW
from .test_navigation import press

pytestmark = pytest.mark.anyio


class Console(DflowConsole):
    """The real console, remembering what it told the user."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.told: list[tuple[str, str]] = []

    def notify(self, message: str, **kwargs: Any) -> None:  # type: ignore[override]
        self.told.append((message, str(kwargs.get("severity", "information"))))
        super().notify(message, **kwargs)


def console(project: Project, process_jobs: bool = False) -> Console:
    return Console(project.root, clock=lambda: FIXED_NOW, process_jobs=process_jobs)


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    """Let the action's thread finish and the console see the new tip."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.3)


def run_of(project: Project, uid: str) -> RunSnapshot:
    snap = project.view().run(uid)
    assert snap is not None
    return snap


def open_kinds(project: Project, uid: str) -> list[tuple[str, int | None]]:
    return [(j.kind.value, j.step) for j in run_of(project, uid).open_jobs]


async def test_v_then_a_review_and_approve_the_step_under_the_cursor(runs_repo) -> None:  # type: ignore[no-untyped-def]
    project, uids = runs_repo
    async with console(project).run_test(size=(80, 24)) as pilot:
        await press(pilot, "enter")  # the cursor starts on step 01, which needs QA
        await press(pilot, "v")
        await settle(pilot)
        assert open_kinds(project, uids["login"]) == [(JobKind.QA.value, 1)]
        await press(pilot, "a")
        await settle(pilot)
        step = run_of(project, uids["login"]).step(1)
        assert step is not None and step.status.value == "completed"
        assert step.reason == "approved by tester@testhost"
        assert open_kinds(project, uids["login"]) == []  # approving drops the queued QA


async def test_space_pauses_and_resumes_and_p_requests_a_plan(runs_repo) -> None:  # type: ignore[no-untyped-def]
    project, uids = runs_repo
    async with console(project).run_test(size=(80, 24)) as pilot:
        await press(pilot, "down", "space")  # 0002-fix-typo
        await settle(pilot)
        assert run_of(project, uids["pending"]).run.paused
        await press(pilot, "space")
        await settle(pilot)
        assert not run_of(project, uids["pending"]).run.paused
        await press(pilot, "p")
        await settle(pilot)
        assert open_kinds(project, uids["pending"]) == [(JobKind.PLAN.value, None)]
        assert pilot.app.told[-1] == ("planning of 0002-fix-typo requested", "information")


async def test_t_retries_the_blocked_step_of_the_run_under_the_cursor(runs_repo) -> None:  # type: ignore[no-untyped-def]
    project, uids = runs_repo
    async with console(project).run_test(size=(80, 24)) as pilot:
        await press(pilot, "down", "down", "t")  # 0003-write-docs, step 00 blocked by QA
        await settle(pilot)
        snap = run_of(project, uids["docs"])
        assert snap.steps[0].status.value == "pending"
        assert open_kinds(project, uids["docs"]) == [(JobKind.EXECUTE.value, 0)]


async def test_c_asks_first_and_only_yes_cancels(runs_repo) -> None:  # type: ignore[no-untyped-def]
    project, uids = runs_repo
    async with console(project).run_test(size=(80, 24)) as pilot:
        tip = project.store.tip()
        await press(pilot, "c", "n")
        await settle(pilot)
        assert project.store.tip() == tip
        await press(pilot, "c", "y")
        await settle(pilot)
        assert run_of(project, uids["login"]).run.status.value == "cancelled"


async def test_an_illegal_action_shows_the_cli_error_and_leaves_the_ref_alone(  # type: ignore[no-untyped-def]
    runs_repo, cli
) -> None:
    project, _ = runs_repo
    result = cli("plan", "0001-add-login", cwd=project.root)
    assert result.exit_code == 1
    cli_error = result.output.strip().removeprefix("error: ")
    tip = project.store.tip()
    async with console(project).run_test(size=(80, 24)) as pilot:
        await press(pilot, "p")  # 0001-add-login is planned already
        await settle(pilot)
        assert pilot.app.told[-1] == (cli_error, "error")
        assert project.store.tip() == tip
        assert pilot.app.is_running  # a notification, never a crash


async def test_n_creates_a_run_with_its_branch_and_plan_request(runs_repo) -> None:  # type: ignore[no-untyped-def]
    project, _ = runs_repo
    async with console(project).run_test(size=(80, 24)) as pilot:
        await press(pilot, "n", *"Add Search", "enter", *"Search the docs", "ctrl+s")
        await settle(pilot)
        snap = project.view().find_run("add-search")
        assert snap.run.id == "0004-add-search" and snap.run.task == "Search the docs"
        assert [j.kind.value for j in snap.open_jobs] == [JobKind.PLAN.value]
        assert project.store.has_ref("refs/heads/0004-add-search")


async def test_an_empty_task_keeps_the_form_and_what_was_typed(runs_repo) -> None:  # type: ignore[no-untyped-def]
    """Before: submitting an empty task closed the form and discarded the name typed."""
    from textual.widgets import Input, Label

    from deksdenflow.console.dialogs.new_run import NewRunDialog

    project, _ = runs_repo
    tip = project.store.tip()
    async with console(project).run_test(size=(80, 24)) as pilot:
        await pilot.press("n", *"add-search", "enter", "enter")  # no pause between the keys
        await settle(pilot)
        dialog = pilot.app.screen
        assert isinstance(dialog, NewRunDialog)
        assert dialog.query_one("#name", Input).value == "add-search"
        assert "needed: the task" in str(dialog.query_one("#hint", Label).render())
        assert dialog.focused is dialog.query_one("#task", Input)
        await press(pilot, *"Search the docs", "ctrl+s")
        await settle(pilot)
    assert project.store.tip() != tip
    assert project.view().find_run("add-search").run.task == "Search the docs"


@pytest.mark.slow
async def test_keyboard_alone_plans_runs_and_reviews_a_protocol_with_the_demo_engine(  # type: ignore[no-untyped-def]
    project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DFLOW_LOOP_MODE", "step")  # one step per `r`, as a cautious user would
    async with console(project, process_jobs=True).run_test(size=(80, 24)) as pilot:
        await press(pilot, "n", *"add-login", "enter", *"Add a login page", "ctrl+s")
        await settle(pilot)
        snap = project.view().find_run("add-login")
        assert snap.run.status.value == "planned" and len(snap.steps) >= 2
        await press(pilot, "enter", "r")  # in the run: the next step (QA follows on its own)
        await settle(pilot)
        snap = project.view().find_run("add-login")
        assert snap.steps[0].status.value == "completed" and snap.steps[0].qa is not None
        assert snap.steps[1].status.value == "pending"
        events = [e.type for e in project.view().run_events(snap.run.uid)]
        assert EventType.STEP_QA_VERDICT in events


async def test_l_lands_and_x_cleans_a_ready_run_each_asking_first(project, cli) -> None:  # type: ignore[no-untyped-def]
    """Before: no key landed, cleaned or asked before opening a PR; `l` did nothing."""
    from pathlib import Path

    from tests.conftest import git

    cli("new", "x", "--task", "say hello", cwd=project.root)
    assert cli("run", "x", "--wait", cwd=project.root).exit_code == 0
    tree = Path(project.view().find_run("x").run.worktree)
    async with console(project).run_test(size=(100, 24)) as pilot:
        tip = project.store.tip()
        await press(pilot, "l", "n")
        await settle(pilot)
        assert project.store.tip() == tip and not project.view().find_run("x").run.merged
        await press(pilot, "l", "y")
        await settle(pilot)
        assert project.view().find_run("x").run.merged, pilot.app.told
        assert "landed 0001-x on main at" in pilot.app.told[-1][0]
        await press(pilot, "x", "y")
        await settle(pilot)
        assert pilot.app.told[-1][0] == "0001-x: removed worktree and branch"
    assert not tree.exists()
    assert "0001-x" not in git("branch", "--format=%(refname:short)", cwd=project.root).split()


async def test_o_asks_before_pushing_for_a_pr(project, cli) -> None:  # type: ignore[no-untyped-def]
    cli("new", "x", "--task", "t", "--no-plan", cwd=project.root)
    async with console(project).run_test(size=(100, 24)) as pilot:
        await press(pilot, "o")
        from deksdenflow.console.dialogs.confirm import ConfirmDialog

        assert isinstance(pilot.app.screen, ConfirmDialog)
        await press(pilot, "n")
        await settle(pilot)
        assert not isinstance(pilot.app.screen, ConfirmDialog)
        assert project.view().find_run("x").run.pr_url is None
