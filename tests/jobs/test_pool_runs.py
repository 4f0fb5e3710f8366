"""The pool finishes protocol runs that `dflow run` only requested (the demo engine)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from deksdenflow.domain.eventlog.payloads import JobClaimed
from deksdenflow.jobs.liveness import is_local_worker
from deksdenflow.jobs.pool import live_workers
from deksdenflow.wiring import open_project

from .conftest import Pool, wait_for

pytestmark = pytest.mark.slow


def test_two_runs_requested_with_dflow_run_are_completed_by_a_burst_pool(
    repo: Path, cli: Callable[..., object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    assert cli("init", "--engine", "demo", cwd=repo).exit_code == 0  # type: ignore[attr-defined]
    for name in ("a", "b"):
        made = cli("new", name, "--task", f"add {name}", "--engine", "demo", cwd=repo)
        assert made.exit_code == 0, made.output  # type: ignore[attr-defined]
    for run in ("0001-a", "0002-b"):
        asked = cli("run", run, cwd=repo)
        assert asked.exit_code == 0, asked.output  # type: ignore[attr-defined]
    assert {s.run.status.value for s in open_project(repo).view().runs()} == {"planning"}

    pool = subprocess.run([sys.executable, "-m", "deksdenflow.cli.main", "worker", "-j", "2",
                           "--burst"], cwd=repo, capture_output=True, text=True, timeout=120)
    assert pool.returncode == 0, pool.stdout + pool.stderr

    snaps = open_project(repo).view().runs()
    assert [(s.run.id, s.run.status.value) for s in snaps] == [
        ("0001-a", "completed"), ("0002-b", "completed")]
    assert all(s.steps and s.open_jobs == [] for s in snaps)


def test_run_wait_waits_for_a_live_pool_instead_of_running_jobs_itself(
    repo: Path, cli: Callable[..., object], monkeypatch: pytest.MonkeyPatch,
    start_pool: Callable[..., Pool],
) -> None:
    assert cli("init", "--engine", "demo", cwd=repo).exit_code == 0  # type: ignore[attr-defined]
    made = cli("new", "a", "--task", "add a", "--engine", "demo", cwd=repo)
    assert made.exit_code == 0, made.output  # type: ignore[attr-defined]
    start_pool("-j", "1")
    project = open_project(repo)
    wait_for(lambda: live_workers(project), what="the pool to start")

    waited = cli("run", "0001-a", "--wait", cwd=repo)
    assert waited.exit_code == 0, waited.output  # type: ignore[attr-defined]
    lines = waited.output.splitlines()  # type: ignore[attr-defined]
    assert lines[0] == "plan: planned"  # the pool's outcomes, reported as they land
    assert lines[-1].startswith("0001-a: ready to land, 3/3 steps done")
    uid = project.view().runs()[0].run.uid
    claimers = {e.data.worker for e in project.view().run_events(uid)
                if isinstance(e.data, JobClaimed)}
    assert claimers and all(is_local_worker(w, project.store) for w in claimers)
