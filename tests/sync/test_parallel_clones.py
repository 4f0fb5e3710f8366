"""Two clones whose workers claim through the remote work on one parallel run: every step is
executed once, whichever clone's worker claims it (the claims travel with the state ref)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from deksdenflow.context import config
from deksdenflow.context.project import Project
from deksdenflow.domain.runs.models import RunStatus
from deksdenflow.store import Tx
from deksdenflow.sync import service
from deksdenflow.workflow.lifecycle import runs
from tests.sync.conftest import Clone

DFLOW = Path(sys.executable).with_name("dflow")
pytestmark = pytest.mark.slow


def _parallel(project: Project) -> None:
    def body(tx: Tx) -> None:
        text = tx.view.project_text()
        for key, value in {"plan.parallel": "true", "engines.demo.options": "{delay_s = 0.1}",
                           "retry.backoff_base_s": "0"}.items():
            text = config.set_in_project_text(text, key, value, kinds=("demo",))
        tx.set_project_text(text)

    project.store.transact(body)


def test_two_clones_share_a_parallel_run_and_run_each_step_once(clone: Clone) -> None:
    a = clone("a")
    _parallel(a)
    runs.create_run(a, "p", "a greeting, tested and documented")
    service.sync(a)
    b = clone("b")
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        workers = [subprocess.Popen([str(DFLOW), "worker", "--remote", "origin", "--burst"],
                                    cwd=p.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True) for p in (a, b)]
        for w in workers:
            out, _ = w.communicate(timeout=240)
            assert w.returncode == 0, out
        service.sync(a)
        service.sync(b)
        if a.view().find_run("1").run.status == RunStatus.COMPLETED:
            break
    for project in (a, b):
        snap = project.view().find_run("1")
        assert snap.run.status == RunStatus.COMPLETED
        assert [s.attempts for s in snap.steps] == [1, 1, 1, 1]
    events = a.view().run_events(a.view().find_run("1").run.uid)
    started = Counter(e.step for e in events if e.type.value == "step.started")
    assert started == {1: 1, 2: 1, 3: 1, 4: 1}, "a step ran twice (or never)"
    integrated = Counter(e.step for e in events if e.type.value == "step.integrated")
    assert integrated == {1: 1, 2: 1, 3: 1, 4: 1}
