"""`dflow report`: JSON against a constructed history; the charts drawn."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.since import parse_since
from deksdenflow.errors import UsageError


def test_report_json_groups_the_constructed_history_by_model(project: Project, history,
                                                             cli) -> None:
    history()
    result = cli("report", "--json", "--by", "model", cwd=project.root)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    groups = {g["key"]: g for g in data["groups"]}
    assert set(groups) == {"m1", "m2", "sonnet", "(none)"}
    m2 = groups["m2"]
    assert (m2["attempts"], m2["errors"], m2["tokens"], m2["cost"]) == (3, 2, 75, 0.25)
    assert (m2["qa_fails"], m2["qa_pass_rate"], m2["error_rate"]) == (1, 0.0, 2 / 3)
    assert groups["m1"]["qa_pass_rate"] == 1.0
    assert groups["(none)"]["tokens"] == 7 + 6 + 6 + 6  # plan and QA: outside the steps
    assert data["total"]["tokens"] == 1320 and data["total"]["cost"] == 1.75
    assert data["runs"] == 2
    assert sum(d["tokens"] for d in data["days"]) == 1320
    assert {b["le"]: b["steps"] for b in data["durations"]}["10"] == 1  # m1: 3 s
    assert {b["le"]: b["steps"] for b in data["durations"]}["900"] == 1  # sonnet: 400 s


def test_report_by_engine_and_step_type(project: Project, history, cli) -> None:
    history()
    by_engine = json.loads(cli("report", "--json", "--by", "engine", cwd=project.root).output)
    tokens = {g["key"]: g["tokens"] for g in by_engine["groups"]}
    assert tokens == {"codex": 220, "claude": 1100}  # run 2's QA: on the run's engine
    by_type = json.loads(cli("report", "--json", "--by", "step-type", cwd=project.root).output)
    groups = {g["key"]: g["tokens"] for g in by_type["groups"]}
    assert groups == {"work": 1295, "qa": 18, "plan+qa": 7}  # each review: 6 tokens


def test_since_leaves_out_older_work(project: Project, history, cli) -> None:
    history()
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    data = json.loads(cli("report", "--json", "--since", tomorrow, cwd=project.root).output)
    assert (data["runs"], data["total"]["tokens"], data["groups"]) == (0, 0, [])


def test_report_draws_the_charts(project: Project, history, cli) -> None:
    history()
    out = cli("report", "--by", "model", cwd=project.root).output
    for title in ("tokens per day", "cost per day", "step duration", "QA pass rate by model",
                  "error rate by model"):
        assert title in out
    assert "█" in out
    assert "sonnet" in out and "$1.75" in out


def test_bad_since_and_by_are_usage_errors(project: Project, cli) -> None:
    assert cli("report", "--by", "colour", cwd=project.root).exit_code == 2
    result = cli("report", "--since", "lately", cwd=project.root)
    assert result.exit_code == 2 and "--since wants a span" in result.output
    with pytest.raises(UsageError):
        parse_since("3x")
    now = datetime(2026, 11, 28, tzinfo=UTC)
    assert parse_since("30d", now) == now - timedelta(days=30)


def test_qa_is_its_own_engine_and_model_and_each_verdict_credits_the_attempt_it_judged(
        project: Project, cli) -> None:
    """Before: QA tokens sat under model "(none)", and a FAIL of model A's attempt counted
    against model B, which ran the step last and passed (B: "QA pass 50%")."""
    from deksdenflow.domain.eventlog.payloads import (
        PlannedStep,
        RunCreated,
        RunPlanned,
        StepFinished,
        StepQaVerdict,
        StepRetried,
        StepStarted,
    )
    from deksdenflow.domain.runs.models import StepType, Usage

    def body(tx) -> None:  # type: ignore[no-untyped-def]
        uid = tx.emit(RunCreated(number=1, name="r", task="t", engine="codex")).run
        tx.emit(RunPlanned(steps=[PlannedStep(index=1, type=StepType.WORK)]), run=uid)
        review = {"engine": "openai", "model": "reviewer-1",
                  "usage": Usage(input_tokens=30, output_tokens=3), "cost": 0.01}
        for model, verdict in (("scripted-1", "FAIL"), ("scripted-2", "PASS")):
            tx.emit(StepStarted(engine="command", model=model), run=uid, step=1)
            tx.emit(StepFinished(engine="command", model=model,
                                 usage=Usage(input_tokens=100)), run=uid, step=1)
            tx.emit(StepQaVerdict(verdict=verdict, **review), run=uid, step=1)
            if verdict == "FAIL":
                tx.emit(StepRetried(), run=uid, step=1)

    project.store.transact(body)
    data = json.loads(cli("report", "--json", "--by", "model", cwd=project.root).output)
    groups = {g["key"]: g for g in data["groups"]}
    assert (groups["scripted-1"]["qa_fails"], groups["scripted-1"]["qa_passes"]) == (1, 0)
    assert (groups["scripted-2"]["qa_passes"], groups["scripted-2"]["qa_pass_rate"]) == (1, 1.0)
    assert groups["reviewer-1"]["tokens"] == 66 and "(none)" not in groups
    by_engine = json.loads(cli("report", "--json", "--by", "engine", cwd=project.root).output)
    assert {g["key"]: g["tokens"] for g in by_engine["groups"]} == {"command": 200,
                                                                    "openai": 66}
    metrics = cli("metrics", cwd=project.root).output
    assert 'dflow_tokens_total{engine="openai",model="reviewer-1",project=' in metrics
    assert 'step_type="qa",variant=""} 66.0' in metrics
