"""Default models per phase (`[models] plan/execute/qa/fix_ci`), flag > env > project > user."""

from __future__ import annotations

from pathlib import Path

import pytest

from deksdenflow.context import config
from deksdenflow.context.project import Project
from deksdenflow.domain.config.settings import ModelsSection
from deksdenflow.domain.runs.models import RunStatus
from tests.engines.conftest import install_fake
from tests.engines.test_protocol_with_fakes import codex_script
from tests.workflow.conftest import configure, settle


def _models(calls: list[dict]) -> list[str | None]:  # type: ignore[type-arg]
    out = []
    for call in calls:
        argv = call["argv"]
        out.append(argv[argv.index("-m") + 1] if "-m" in argv else None)
    return out


def test_each_phase_runs_with_its_default_model(
    project: Project, new_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    codex = install_fake("codex", tmp_path, monkeypatch)
    codex.script(queue=codex_script(3))
    configure(project, {"phases.default": '"codex"', "engines.codex.model": '"engine-m"',
                        "models.plan": '"plan-m"', "models.qa": '"qa-m"'})
    monkeypatch.setenv("DFLOW_MODELS_EXECUTE", "exec-m")  # the environment beats the file
    new_run()
    snap = settle(project)
    assert snap.run.status == RunStatus.COMPLETED
    assert _models(codex.calls()) == ["plan-m"] + ["exec-m", "qa-m"] * 3
    assert [s.model for s in snap.steps] == ["exec-m"] * 3


def test_a_phase_model_is_only_for_the_phase_engine(
    project: Project, new_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    codex = install_fake("codex", tmp_path, monkeypatch)
    codex.script(queue=codex_script(1))
    configure(project, {"phases.default": '"demo"', "phases.plan": '"codex"',
                        "models.plan": '"plan-m"', "models.execute": '"demo-only"'})
    new_run()
    snap = settle(project)
    assert _models(codex.calls()) == ["plan-m"]
    started = [e.data.model_dump() for e in project.view().run_events(snap.run.uid)
               if e.type == "step.started"]
    assert {(d["engine"], d["model"]) for d in started} == {("demo", "demo-only")}


def test_precedence_is_flag_then_env_then_project_then_user(tmp_path: Path) -> None:
    user = tmp_path / "user.toml"
    user.write_text('[models]\nplan = "user"\nqa = "user"\nexecute = "user"\nfix_ci = "user"\n')
    project = '[models]\nplan = "project"\nqa = "project"\nexecute = "project"\n'
    env = {"DFLOW_MODELS_PLAN": "env", "DFLOW_MODELS_QA": "env"}
    resolved = config.resolve(project, flags={"models.plan": "flag"}, env=env, user_path=user)
    models = resolved.settings.models
    assert (models.plan, models.qa, models.execute, models.fix_ci) == \
        ("flag", "env", "project", "user")
    assert resolved.source("models.qa") == "environment DFLOW_MODELS_QA"


def test_fix_ci_falls_back_to_the_steps_model() -> None:
    assert ModelsSection(execute="e").for_phase("fix_ci") == "e"
    assert ModelsSection(execute="e", fix_ci="f").for_phase("fix_ci") == "f"
    assert ModelsSection().for_phase("plan") == ""
