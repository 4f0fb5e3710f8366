"""Policy: budgets (tokens, cost) against what a codex-style agent reports; models.allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.runs.models import RunStatus, StepStatus
from deksdenflow.workflow.lifecycle import controls
from deksdenflow.workflow.spend import budget
from tests.engines.conftest import install_fake
from tests.engines.test_protocol_with_fakes import codex_script
from tests.workflow.conftest import configure, settle


def test_a_run_over_max_tokens_is_blocked_with_the_figure(
    project: Project, new_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    codex = install_fake("codex", tmp_path, monkeypatch)
    codex.script(queue=codex_script(2))  # every call reports 1,000 in + 100 out (codex --json)
    configure(project, {"phases.default": '"codex"', "budget.tokens": 500,
                        "budget.mode": '"strict"'})
    new_run()
    snap = settle(project)
    assert snap.run.status == RunStatus.BLOCKED
    assert "used 1100 tokens of its budget of 500" in snap.run.blocks["budget"]
    assert snap.steps[0].status == StepStatus.PENDING and len(codex.calls()) == 1


def test_a_cost_budget_is_decided_by_the_same_pure_function(project: Project, new_run) -> None:
    snap = new_run()
    snap.run.cost = 2.5
    settings = project.settings().model_copy(deep=True)
    settings.budget.cost, settings.budget.mode = 2.0, "strict"
    assert budget.stops(snap, settings) == budget.exceeded(snap, settings)
    assert "cost $2.5000 of its budget of $2.0000" in (budget.stops(snap, settings) or "")
    settings.budget.mode = "warn"
    assert budget.stops(snap, settings) is None and budget.exceeded(snap, settings)


def test_a_model_not_allowed_is_refused_with_the_list(project: Project, new_run) -> None:
    configure(project, {"engines.demo.model": '"big"',
                        "models.allowed": '{demo = ["small", "tiny"]}'})
    new_run()
    snap = settle(project)
    assert snap.run.status == RunStatus.BLOCKED
    why = snap.run.blocks["plan"]
    assert "model 'big' is not allowed for engine 'demo'" in why and "small, tiny" in why
    configure(project, {"engines.demo.model": '"small"'})
    controls.request_plan(project, "1")
    assert settle(project).run.status == RunStatus.COMPLETED
