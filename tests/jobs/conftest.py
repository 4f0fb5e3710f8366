"""Fixtures for the worker pool: real `dflow worker` processes with a test job handler."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import PlannedStep, RunPlanned
from deksdenflow.domain.runs.models import Job, JobKind
from deksdenflow.jobs import queue
from deksdenflow.workflow.lifecycle import runs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pool_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers load tests/jobs/handlers.py; retries come back quickly; logs are plain."""
    monkeypatch.setenv("DFLOW_JOB_HANDLERS", "tests.jobs.handlers")
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("DFLOW_RETRY_BACKOFF_BASE_S", "0.05")
    monkeypatch.setenv("DFLOW_RETRY_BACKOFF_MAX_S", "0.2")


class Pool:
    """One `dflow worker` process tree, its output kept in a file."""

    def __init__(self, repo: Path, args: list[str], log: Path) -> None:
        self.log = log
        self._out = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deksdenflow.cli.main", "worker", *args],
            cwd=repo, stdout=self._out, stderr=subprocess.STDOUT,
        )

    def wait(self, timeout: float = 60) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._out.close()

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def output(self) -> str:
        return self.log.read_text()

    def interrupt_twice(self) -> int:
        """Ctrl-C, and Ctrl-C again once the first one was seen: stop at once."""
        self.proc.send_signal(signal.SIGINT)
        wait_for(lambda: "stopping" in self.output(), what="the first Ctrl-C to be seen")
        self.proc.send_signal(signal.SIGINT)
        return self.wait(30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.interrupt_twice()
        self._out.close()


@pytest.fixture
def start_pool(repo: Path, tmp_path: Path, pool_env: None) -> Iterator[Callable[..., Pool]]:
    pools: list[Pool] = []

    def start(*args: str) -> Pool:
        pool = Pool(repo, list(args), tmp_path / f"pool-{len(pools)}.log")
        pools.append(pool)
        return pool

    yield start
    for pool in pools:
        pool.stop()


def wait_for(check: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def planned_run(project: Project, name: str = "a", steps: int = 1) -> str:
    """A run with `steps` pending work steps (as if planned), without a worktree."""

    def make(tx: Any) -> str:
        snap = runs.record_run(tx, name, "a task", base="main")
        tx.emit(RunPlanned(steps=[PlannedStep(index=i, title=f"step {i}")
                                  for i in range(1, steps + 1)]), run=snap.run.uid)
        return snap.run.uid

    return project.store.transact(make)


def request(project: Project, run: str | None = None, step: int | None = None,
            **payload: Any) -> Job:
    return project.store.transact(
        lambda tx: queue.request(tx, JobKind.NOOP, run=run, step=step, payload=payload))


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []
