"""Retry policy per step type (`[retry.work]`, `[retry.fix_ci]`, ...): attempts, backoff, and
whether findings are fed back; one owner for backoff."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain import backoff
from deksdenflow.domain.config.settings import RetrySection, StepRetry
from deksdenflow.domain.runs.models import RunStatus, StepStatus
from deksdenflow.jobs import queue
from deksdenflow.sync import service
from tests.engines.conftest import install_fake
from tests.engines.test_protocol_with_fakes import codex_script
from tests.workflow.conftest import configure, settle
from tests.workflow.test_failures import _demo_options

PACKAGE = Path(__file__).resolve().parents[2] / "deksdenflow"


def test_a_work_step_gets_its_own_number_of_attempts(
    project: Project, new_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    codex = install_fake("codex", tmp_path, monkeypatch)
    codex.script(queue=codex_script(3)[:1] + [{"fail": "the model is overloaded"}] * 3)
    configure(project, {"phases.default": '"codex"', "retry.max_attempts": 1,
                        "retry.backoff_base_s": 0, "retry.work.max_attempts": 2})
    new_run()
    snap = settle(project)
    step = snap.steps[0]
    assert (step.status, step.attempts, step.final_failure) == (StepStatus.FAILED, 2, True)
    assert len(codex.calls()) == 3  # the plan, then two attempts of step 01 (not one, not 3)


def test_findings_are_not_fed_back_when_the_step_type_says_so(
    project: Project, new_run
) -> None:
    _demo_options(project, {"bug": True})  # wrong until the prompt carries the findings
    configure(project, {"qa.auto_retry": 1, "retry.work.findings": "false"})
    new_run()
    snap = settle(project)
    assert snap.run.status == RunStatus.BLOCKED and snap.steps[0].attempts == 2
    view = project.view()
    second = [n for n in view.artifact_names(snap.run.uid)
              if re.match(r"transcripts/01-execute-.*-2\.log$", n)]
    text = view.artifact(snap.run.uid, second[0]) or b""
    assert b"Findings from the last QA" not in text


def test_a_type_policy_overrides_only_what_it_sets() -> None:
    policy = RetrySection(max_attempts=3, backoff_base_s=2, backoff_max_s=300,
                          fix_ci=StepRetry(max_attempts=1, backoff_base_s=60, findings=False))
    fix = policy.for_type("fix_ci")
    assert (fix.max_attempts, fix.backoff_base_s, fix.backoff_max_s) == (1, 60, 300)
    assert policy.for_type("work") is policy and policy.for_type(None) is policy
    assert not policy.feeds_findings("fix_ci") and policy.feeds_findings("work")


def test_backoff_has_one_owner() -> None:
    """Job retries and rejected pushes both wait by domain/backoff.py's rule."""
    policy = RetrySection(backoff_base_s=1.0, backoff_max_s=5.0)
    for n in range(1, 6):
        a, b = random.Random(n), random.Random(n)
        assert queue.backoff(n, policy, a) == backoff.delay(n, 1.0, 5.0, b)
        a, b = random.Random(n), random.Random(n)
        assert service.backoff(n, a) == backoff.delay(
            n + 1, service.BACKOFF_BASE_S, service.BACKOFF_MAX_S, b)
    jitter = [p for p in PACKAGE.rglob("*.py") if ".uniform(" in p.read_text()]
    assert jitter == [PACKAGE / "domain" / "backoff.py"]


def test_a_bad_retry_value_names_the_key(project: Project) -> None:
    from deksdenflow.errors import ConfigError

    with pytest.raises(ConfigError, match=r"retry\.work\.max_attempts"):
        configure(project, {"retry.work.max_attempts": 0})
