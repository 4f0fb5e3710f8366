"""A job this machine may not run (it waits for `dflow trust`) is no reason for an idle worker
to wake up: past its retry backoff it made the pool spin, one claim round after another."""
from __future__ import annotations

import time

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.config.settings import RetrySection
from deksdenflow.jobs import worker as worker_mod
from deksdenflow.jobs.liveness import JobLocks
from deksdenflow.jobs.recovery import recover
from tests.jobs.conftest import request
from tests.jobs.test_claims import _claim


def test_an_idle_worker_does_not_spin_on_a_held_job(project: Project,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    request(project)
    holder = JobLocks(project.store)
    _claim(project, holder)
    holder.keep_only(set())
    policy = RetrySection(max_attempts=3, backoff_base_s=0.05, backoff_max_s=0.05)
    assert recover(project, JobLocks(project.store), project.view().open_jobs(), policy)
    time.sleep(0.2)  # its backoff is over: claimable, but this machine may not run it
    monkeypatch.setattr(worker_mod, "trust_hold", lambda project, view: (lambda job: True))
    w = worker_mod.Worker(project, worker_mod.WorkerOptions())
    rounds, start = 0, time.monotonic()
    while time.monotonic() - start < 1.0:
        assert w._claim() == []
        w._idle()
        rounds += 1
    w.locks.keep_only(set())
    assert rounds < 50, f"{rounds} claim rounds in one second: the idle worker spins"
