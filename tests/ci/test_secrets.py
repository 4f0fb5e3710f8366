"""A secret printed by the engine of a fix-CI job reaches no blob of the state ref's history."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from deksdenflow.ci import report as ci
from deksdenflow.context.project import Project
from deksdenflow.domain.runs.models import JobKind
from deksdenflow.jobs import runner
from deksdenflow.store import STATE_REF
from deksdenflow.sync import service
from deksdenflow.wiring import Wiring
from deksdenflow.workflow.lifecycle import controls, runs
from deksdenflow.workflow.lifecycle.runs import record_run
from tests.ci.test_report import all_blobs
from tests.sync.conftest import Clone
from tests.workflow.conftest import configure

TOKEN = "sk-ant-" + "api03-Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0"
# The secrets come from the environment: project.toml itself must not hold them.
LEAKER = """
[engines.leaker]
kind = "command"
env = ["LEAK_TOKEN", "DB_PASSWORD"]  # listed: the agent's environment is an allowlist
options = { command = "sh -c 'echo oops > leak.txt; echo key is $LEAK_TOKEN; echo $DB_PASSWORD'" }
"""


def test_engine_output_of_a_fix_job_is_redacted_before_it_is_stored(
    clone: Clone, remote: Path, monkeypatch: object
) -> None:
    a = clone("a")
    snap = runs.create_run(a, "login", "add a login page")
    controls.run_until_settled(a, snap.run.id, "w-test", True)
    monkeypatch.setenv("DB_PASSWORD", "hunter2-db-password")  # type: ignore[attr-defined]
    monkeypatch.setenv("LEAK_TOKEN", TOKEN)  # type: ignore[attr-defined]
    a.store.transact(lambda tx: tx.set_project_text(
        tx.view.project_text() + LEAKER + '\n[secrets]\nenv = ["DB_PASSWORD"]\n'))
    configure(a, {"ci.fix": "auto", "phases.execute": "leaker"})  # a configured engine
    assert ci.report(Wiring(), a.root, status="failure", branch=snap.run.id).fix_requested
    outcomes: list[runner.Outcome] = []
    runner.drain(a, "w-fix", kinds={JobKind.FIX_CI}, on_outcome=outcomes.append)
    assert outcomes and all(o.ok for o in outcomes), outcomes
    service.sync(a)
    for where in (a.root, remote):
        blobs = all_blobs(where, STATE_REF)
        assert not any(TOKEN.encode() in b or b"hunter2-db-password" in b for b in blobs)
    assert any(b"[REDACTED]" in b for b in all_blobs(a.root, STATE_REF))


def test_a_secret_named_in_the_user_config_is_redacted_on_the_ref_and_in_events(
    project: Project, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[secrets] env` counts wherever the effective settings name it: the store's one pass
    reads them, not project.toml alone (a CI URL is outside text the store keeps)."""
    # A name that does not look secret: only `[secrets] env` in the user config names it.
    Path(os.environ["DFLOW_CONFIG_FILE"]).write_text('[secrets]\nenv = ["DEPLOY_BADGE"]\n')
    monkeypatch.setenv("DEPLOY_BADGE", "hunter2-user-config-secret")
    snap = project.store.transact(lambda tx: record_run(tx, "login", "t", base="main"))
    done = cli("ci", "report", "--status", "failure", "--branch", snap.run.id,
               "--url", "https://ci.example/run?p=hunter2-user-config-secret", cwd=project.root)
    assert done.exit_code == 0, done.output
    events = cli("events", snap.run.id, cwd=project.root)
    assert "ci.example/run?p=[REDACTED]" in events.output
    assert "hunter2" not in events.output
    assert not any(b"hunter2" in b for b in all_blobs(project.root, STATE_REF))
