"""Interrupts stop the agent and lose no work: Ctrl-C/SIGTERM of `run --wait` kills the agent's
process group and gives the claim back; after a SIGKILL of `run --wait` the next
`dflow run --wait` recovers the claim (one worker identity, the job lock) and completes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.runs.models import JobKind, JobStatus
from deksdenflow.wiring import open_project
from tests.workflow.conftest import configure

from .conftest import wait_for

pytestmark = pytest.mark.slow
AGENT = """#!/bin/sh
echo $$ > {pid}
sleep 30
echo late > {late}
"""


def _slow_agent(repo: Path, tmp_path: Path, cli: Callable[..., Any]) -> tuple[Project, Path, Path]:
    assert cli("init", "--engine", "demo", cwd=repo).exit_code == 0
    pid, late = tmp_path / "agent.pid", tmp_path / "late.txt"
    script = tmp_path / "agent.sh"
    script.write_text(AGENT.format(pid=pid, late=late))
    script.chmod(0o755)
    project = open_project(repo)
    configure(project, {"engines.slow.kind": '"command"',
                        "engines.slow.options": f'{{command = "{script}"}}',
                        "phases.execute": "slow"})
    assert cli("new", "a", "--task", "add a", cwd=repo).exit_code == 0
    return project, pid, late


def _run_wait(repo: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "deksdenflow.cli.main", "run", "1", "--wait"],
                            cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _execute_job(project: Project) -> Any:
    snap = project.view().find_run("1")
    return next(j for j in snap.jobs if j.kind == JobKind.EXECUTE)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupting_run_wait_kills_the_agent_and_gives_the_claim_back(
    repo: Path, tmp_path: Path, cli: Callable[..., Any], signum: signal.Signals
) -> None:
    project, pid_file, late = _slow_agent(repo, tmp_path, cli)
    proc = _run_wait(repo)
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), what="the agent")
    agent = int(pid_file.read_text())
    proc.send_signal(signum)
    assert proc.wait(30) == 130, proc.stdout.read() if proc.stdout else ""
    assert not _alive(agent), (proc.stdout.read() if proc.stdout else "")
    time.sleep(0.5)
    assert not late.exists()  # nothing written after dflow exited
    job = _execute_job(project)
    assert (job.status, job.failures) == (JobStatus.REQUESTED, 0)  # given back, not failed
    configure(project, {"phases.execute": "demo"})
    assert cli("run", "1", "--wait", cwd=repo).exit_code == 0
    assert project.view().find_run("1").run.status.value == "completed"


def test_after_a_sigkill_of_run_wait_the_next_run_wait_recovers_and_completes(
    repo: Path, tmp_path: Path, cli: Callable[..., Any]
) -> None:
    project, pid_file, _ = _slow_agent(repo, tmp_path, cli)
    proc = _run_wait(repo)
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), what="the agent")
    agent = int(pid_file.read_text())
    proc.kill()
    proc.wait(30)
    # Before decision 1531 a SIGKILLed dflow could not take its agent along; its keeper now
    # does (PR_SET_PDEATHSIG), so the agent may already be gone.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(agent, signal.SIGKILL)
    assert _execute_job(project).status == JobStatus.CLAIMED
    configure(project, {"phases.execute": "demo"})
    done = cli("run", "1", "--wait", cwd=repo)
    assert done.exit_code == 0, done.output
    snap = project.view().find_run("1")
    assert snap.run.status.value == "completed"
    job = next(j for j in snap.jobs if j.kind == JobKind.EXECUTE and j.step == 1)
    assert (job.lost, job.failures) == (1, 0)  # an infrastructure loss, not an agent failure


def test_a_dead_in_process_claim_is_recovered_with_its_step_by_a_fresh_process(
    repo: Path, tmp_path: Path, cli: Callable[..., Any]
) -> None:
    """Issue 12: recovery used the handlers that happened to be imported; a process that
    imported none left the step `running` under a requested job. The composition root hands
    every process the same handlers."""
    project, pid_file, _ = _slow_agent(repo, tmp_path, cli)
    proc = _run_wait(repo)
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), what="the agent")
    agent = int(pid_file.read_text())
    proc.kill()
    proc.wait(30)
    with contextlib.suppress(ProcessLookupError):  # the keeper already ended it (1531)
        os.killpg(agent, signal.SIGKILL)
    assert project.view().find_run("1").steps[0].status.value == "running"
    script = ("from deksdenflow.jobs.recovery import recover_dead_claims\n"
              "from deksdenflow.wiring import open_project\n"
              "print(len(recover_dead_claims(open_project('.'))))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=repo, capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "1"), done.stderr
    snap = project.view().find_run("1")
    job = _execute_job(project)
    assert (job.status, job.lost, job.failures) == (JobStatus.REQUESTED, 1, 0)
    assert snap.steps[0].status.value == "failed"  # its attempt recorded, retried by the job
