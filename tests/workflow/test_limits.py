"""Limits per attempt, per run and per project per calendar month, against what a
codex-style agent reports (`--json` usage totals): strict blocks with the figure, warn goes on."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import RunNote
from deksdenflow.domain.runs.models import RunStatus, StepStatus
from deksdenflow.errors import ConfigError
from deksdenflow.sync import service
from deksdenflow.workflow.lifecycle import runs
from deksdenflow.workflow.spend import budget
from tests.engines.conftest import install_fake
from tests.engines.test_protocol_with_fakes import codex_script
from tests.workflow.conftest import configure, settle


@pytest.fixture
def codex(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    fake = install_fake("codex", tmp_path, monkeypatch)
    fake.script(queue=codex_script(3))  # every call reports 1,000 in + 100 out
    configure(project, {"phases.default": '"codex"'})
    return fake


def test_an_attempt_over_its_limit_blocks_the_run_before_the_next_attempt(
    project: Project, codex, new_run
) -> None:
    configure(project, {"budget.attempt.max_tokens": 1000, "budget.mode": '"strict"'})
    new_run()
    snap = settle(project)
    assert snap.run.status == RunStatus.BLOCKED
    assert snap.run.blocks["budget"].startswith(
        "the plan of 0001-x used 1100 tokens of its budget of 1000 tokens "
        "(budget.attempt.max_tokens)")
    assert len(codex.calls()) == 1 and snap.steps[0].status == StepStatus.PENDING
    configure(project, {"budget.attempt.max_tokens": 1100})  # exactly the spend: allowed
    assert settle(project).run.status == RunStatus.COMPLETED


def test_the_month_counts_every_run_and_stops_a_new_run_before_its_plan(
    project: Project, codex, new_run
) -> None:
    configure(project, {"budget.month.max_tokens": 2000, "budget.mode": '"strict"'})
    new_run()
    first = settle(project)
    month = datetime.now(UTC).strftime("%Y-%m")
    why = f"the project in {month} used 2200 tokens of its budget of 2000 tokens"
    assert first.run.blocks["budget"].startswith(why)  # plan + step 1, stopped before QA
    assert len(codex.calls()) == 2
    second = runs.create_run(project, "y", "another task")  # its plan is not requested
    assert second.run.status == RunStatus.BLOCKED and second.run.blocks["budget"].startswith(why)
    assert not second.open_jobs and not second.run.planned
    assert len(codex.calls()) == 2


def test_warn_records_a_warning_with_the_figure_and_goes_on(
    project: Project, codex, new_run
) -> None:
    configure(project, {"budget.run.max_tokens": 2000, "budget.mode": '"warn"'})
    new_run()
    snap = settle(project)
    assert snap.run.status == RunStatus.COMPLETED and not snap.run.blocks
    notes = [e.data for e in project.view().run_events(snap.run.uid)
             if isinstance(e.data, RunNote)]
    assert any("0001-x used 2200 tokens of its budget of 2000 tokens" in n.text
               and n.level == "warning" for n in notes)


def test_the_blocked_run_says_why_in_status_with_the_figure(
    project: Project, codex, new_run, cli, repo: Path
) -> None:
    configure(project, {"budget.run.max_tokens": 500, "budget.mode": '"strict"'})
    new_run()
    settle(project)
    shown = json.loads(cli("status", "--json", cwd=repo).output)["runs"][0]
    assert shown["status"] == "blocked"
    assert "used 1100 tokens of its budget of 500 tokens (budget.run.max_tokens)" in \
        shown["waiting"]["reason"]
    assert shown["waiting"]["command"] == \
        "dflow config set budget.run.max_tokens N (or budget.mode warn)"
    text = cli("status", cwd=repo).output
    assert "used 1100 tokens of its budget of 500 tokens" in " ".join(text.split())


def test_a_month_that_ended_does_not_count(project: Project, codex, new_run) -> None:
    new_run()
    settle(project)
    snap = project.view().run("1") or project.view().find_run("1")
    this_month = budget.month_spend(project.view())
    assert this_month.tokens == snap.run.usage.total > 0
    later = datetime(2999, 1, 1, tzinfo=UTC)
    assert budget.month_spend(project.view(), now=later).tokens == 0


@pytest.mark.parametrize(("key", "value", "words"), [
    ("budget.month.max_tokens", "-1", "budget.month.max_tokens"),
    ("budget.attempt.max_cost", '"lots"', "budget.attempt.max_cost"),
])
def test_a_bad_limit_is_one_sentence_naming_the_key(
    project: Project, key: str, value: str, words: str
) -> None:
    with pytest.raises(ConfigError) as err:
        configure(project, {key: value})
    assert words in str(err.value) and "\n" not in str(err.value)


def test_two_spellings_of_the_run_limit_that_disagree_are_refused(project: Project) -> None:
    configure(project, {"budget.tokens": 100})
    with pytest.raises(ConfigError) as err:
        configure(project, {"budget.run.max_tokens": 200})
    assert "budget.tokens (100) and budget.run.max_tokens (200)" in str(err.value)


def test_on_a_fresh_clone_a_run_over_max_tokens_is_blocked_with_the_figure(
    clone, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    a = clone("a")
    configure(a, {"phases.default": '"codex"', "budget.run.max_tokens": 500,
                  "budget.mode": '"strict"'})
    service.sync(a)
    codex = install_fake("codex", tmp_path, monkeypatch)
    codex.script(queue=codex_script(3))
    fresh = clone("b").root  # the policy comes with the state ref
    assert cli("new", "x", "--task", "add a greeting", cwd=fresh).exit_code == 0
    ran = cli("run", "x", "--wait", cwd=fresh)
    assert ran.exit_code == 4, ran.output  # waits for a person
    assert len(codex.calls()) == 1
    status = " ".join(cli("status", cwd=fresh).output.split())
    assert "0001-x waits: blocked by budget: 0001-x used 1100 tokens of its budget of 500 " \
        "tokens (budget.run.max_tokens)" in status
