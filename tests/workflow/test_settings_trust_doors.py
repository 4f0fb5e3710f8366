"""The doors behind the workers' trust hold (decision 1510): an untrusted alert command is
never started, an untrusted engine never runs even if a job got through, and `init --ci`
never writes an untrusted install step into a workflow.

"From origin" is built by rewriting this machine's trust record as if the key had never been
trusted here (what a sync leaves behind; tests/sync/test_settings_trust.py does it with two
real clones)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deksdenflow.ci import templates
from deksdenflow.context import settings_trust as record
from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import RunBudgetAlert
from deksdenflow.domain.runs.models import JobStatus
from deksdenflow.errors import ConfigError
from deksdenflow.jobs import runner
from tests.engines.conftest import install_fake
from tests.engines.test_protocol_with_fakes import codex_script
from tests.workflow.conftest import configure, settle


def _distrust(project: Project, *keys: str) -> None:
    """This machine never trusted `keys` (they came with a sync)."""
    values = record.trusted_values(project.store.git_dir)
    for key in keys:
        values.pop(key, None)
    record.write(project.store.git_dir, values, project.store.tip() or "")
    assert set(keys) <= project.settings().untrusted()


def test_an_alert_command_from_origin_is_not_started(
        project: Project, new_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    codex = install_fake("codex", tmp_path, monkeypatch)
    codex.script(queue=codex_script(3))
    marker = tmp_path / "alerted"
    configure(project, {"phases.default": '"codex"', "budget.run.max_tokens": 4000,
                        "budget.mode": '"warn"', "alerts.at": "[0.5]",
                        "alerts.command": json.dumps(f"touch {marker}")})
    _distrust(project, "alerts.command")
    new_run()
    snap = settle(project)
    alerts = [e for e in project.view().run_events(snap.run.uid)
              if isinstance(e.data, RunBudgetAlert)]
    assert alerts, "precondition: the budget alert fired (it is recorded, only not delivered)"
    assert not marker.exists()


def test_an_untrusted_engine_never_runs_even_past_the_workers_hold(
        project: Project, new_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "ran"
    configure(project, {"engines.demo.kind": "command", "retry.max_attempts": 1,
                        "engines.demo.options": f'{{command = "touch {marker}"}}'})
    _distrust(project, "engines.demo.kind", "engines.demo.options")
    monkeypatch.setattr(runner, "trust_hold", lambda project, view: None)  # the first door open
    new_run()
    snap = settle(project)
    assert not marker.exists()
    [plan] = [j for j in snap.jobs if j.kind.value == "plan"]
    assert plan.status == JobStatus.FAILED
    assert "settings from origin changed engines.demo.kind" in (plan.error or "")


def test_init_ci_refuses_an_install_step_from_origin(project: Project) -> None:
    configure(project, {"ci.install": '"evil-package"'})
    _distrust(project, "ci.install")
    with pytest.raises(ConfigError, match="settings from origin changed ci.install"):
        templates.write(project, "github")
    assert not (project.root / ".github").exists()


def test_ci_trusts_the_settings_of_the_commit_it_runs(project: Project,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    configure(project, {"engines.demo.kind": "command"})
    _distrust(project, "engines.demo.kind")
    monkeypatch.setenv("DFLOW_TRUST_SETTINGS", "1")
    assert project.settings().untrusted() == frozenset()


def test_run_wait_stops_at_a_trust_wait_and_says_so(
        project: Project, new_run, tmp_path: Path, cli, repo: Path) -> None:
    marker = tmp_path / "ran"
    configure(project, {"engines.demo.kind": "command",
                        "engines.demo.options": f'{{command = "touch {marker}"}}'})
    _distrust(project, "engines.demo.kind")
    new_run()
    result = cli("run", "x", "--wait", cwd=repo)
    assert result.exit_code == 4  # waits for a person (docs/exit-codes.md)
    assert "waits: settings from origin changed engines.demo.kind — `dflow trust`" in \
        result.output
    assert not marker.exists()
    from deksdenflow.console.screens.run_detail import head

    snap = project.view().find_run("x")
    assert "settings from origin changed engines.demo.kind" in \
        head(snap, project.settings()).plain


def test_a_config_set_here_trusts_only_the_key_it_set(project: Project) -> None:
    configure(project, {"engines.demo.kind": "command", "qa.policy": '"never"'})
    _distrust(project, "engines.demo.kind", "qa.policy")
    configure(project, {"qa.policy": '"end"'})  # a person here chose this value
    assert project.settings().untrusted() == frozenset({"engines.demo.kind"})
