"""Quitting the console while it drives a job in-process kills the agent's whole process group
(no orphan agent keeps changing the worktree) and gives the job back, so the next worker runs
it again without charging the agent an attempt (issue 11)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from deksdenflow.console.app import DflowConsole
from deksdenflow.context.project import Project
from deksdenflow.domain.runs.models import JobKind, JobStatus
from deksdenflow.engines.demo_files import plan as demo_plan
from deksdenflow.jobs.liveness import new_worker_id
from deksdenflow.workflow.lifecycle import controls, runs
from tests.engines.conftest import install_fake, pid_is_gone
from tests.workflow.conftest import configure

from .conftest import FIXED_NOW
from .test_tmux import DFLOW, Pane

pytestmark = pytest.mark.anyio
PASS = json.dumps({"verdict": "PASS", "summary": "checked", "findings": []})


def group_is_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def wait_until(check, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return bool(check())


async def test_quit_kills_the_agent_group_and_the_job_is_run_again_uncharged(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    codex = install_fake("codex", tmp_path, monkeypatch)
    pid_file = tmp_path / "agent-child.pid"
    plan = {"message": json.dumps(demo_plan("0001-x"))}
    codex.script(queue=[plan, {"hang": str(pid_file)}])
    configure(project, {"phases.default": '"codex"', "loop.mode": '"step"'})
    runs.create_run(project, "x", "add a greeting")
    me = new_worker_id(project.store, "test")
    controls.wait(project, "1", me)  # planned; one step at a time: it waits for `r`
    assert project.view().find_run("1").run.status.value == "planned"

    app = DflowConsole(project.root, clock=lambda: FIXED_NOW, process_jobs=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")  # the console runs the step itself: no pool is running
        for _ in range(600):
            if pid_file.exists() and pid_file.read_text().strip():
                break
            await pilot.pause(0.05)
        child = int(pid_file.read_text())
        group = os.getpgid(child)
        assert not group_is_gone(group)
        await pilot.press("q")

    assert wait_until(lambda: pid_is_gone(child) and group_is_gone(group)), \
        "the agent outlived the console"
    snap = project.view().find_run("1")
    (job,) = [j for j in snap.jobs if j.kind == JobKind.EXECUTE]
    assert wait_until(lambda: _execute(project).status == JobStatus.REQUESTED), \
        "the job was not given back"
    job = _execute(project)
    assert (job.failures, job.claimed_by) == (0, None)  # not the agent's fault

    codex.script(queue=[{"write": {"step1.txt": "1\n"}, "message": "did 1"},
                        {"message": PASS}] * 3)
    done = controls.run_until_settled(project, "1", me, all_steps=True)
    assert done.steps[0].status.value == "completed"


def _execute(project: Project):  # type: ignore[no-untyped-def]
    snap = project.view().find_run("1")
    return next(j for j in snap.jobs if j.kind == JobKind.EXECUTE and j.step == 1)


def _planned_with_a_hanging_agent(project: Project, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> Path:
    codex = install_fake("codex", tmp_path, monkeypatch)
    pid_file = tmp_path / "agent-child.pid"
    codex.script(queue=[{"message": json.dumps(demo_plan("0001-x"))}, {"hang": str(pid_file)}])
    configure(project, {"phases.default": '"codex"', "loop.mode": '"step"'})
    runs.create_run(project, "x", "add a greeting")
    controls.wait(project, "1", new_worker_id(project.store, "test"))
    return pid_file


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by .ci/run")
def test_the_real_console_quit_leaves_no_agent_and_no_claim(
    project: Project, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dflow console` in a terminal: `r` starts the agent in the console's process, `q` quits;
    the process exits, its agent group is dead and the job is open for the next worker."""
    pid_file = _planned_with_a_hanging_agent(project, tmp_path, monkeypatch)
    socket = f"dflow-quit-{os.getpid()}-{tmp_path.name}"
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "NO_COLOR", "COLUMNS", "LINES")}
    subprocess.run(
        ["tmux", "-L", socket, "-f", os.devnull, "new-session", "-d", "-s", "console",
         "-x", "80", "-y", "24", "-c", str(repo), f"{DFLOW} console; echo console-exited-$?; "
         "sleep 30"], check=True, env={**env, "TERM": "xterm-256color"}, timeout=30)
    pane = Pane(socket)
    try:
        pane.wait_for(lambda s: "0001-x" in s and "q Quit" in s, seconds=60)
        pane.keys("r")
        assert wait_until(lambda: pid_file.exists() and pid_file.read_text().strip() != "", 60)
        child = int(pid_file.read_text())
        group = os.getpgid(child)
        pane.keys("q")
        screen = pane.wait_for(lambda s: "console-exited-0" in s, seconds=60)
        assert "stopped the agent of the job in progress" in screen
        assert wait_until(lambda: pid_is_gone(child) and group_is_gone(group), 10)
        job = _execute(project)
        assert (job.status, job.failures, job.claimed_by) == (JobStatus.REQUESTED, 0, None)
    finally:
        pane.tmux("kill-server")
