"""The one reading of what a run's events say beside its snapshot (domain/runs/run_facts.py),
which `dflow show`'s command and its fast path share."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deksdenflow.domain.runs import run_facts

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_a_failure_that_succeeded_since_is_history_and_others_stay() -> None:
    events: list[run_facts.Fact] = [
        ("r1", "job.requested", 2, AT, {"kind": "execute"}),
        ("f1", "job.failed", 2, AT, {"job": "r1", "error": "agent crashed"}),
        ("f2", "job.failed", None, AT, {"job": "unknown", "error": "lost"}),
        ("s1", "step.failed", 3, AT, {"reason": "tests failed"}),
        ("s2", "step.failed", 4, AT, {"reason": ""}),  # no reason: nothing to say
        ("d1", "job.finished", 2, AT, {"job": "r1"}),
    ]
    assert run_facts.failures(events) == [(AT, "", None, "lost"),
                                          (AT, "execute", 3, "tests failed")]


def test_attempts_and_notes_in_order_with_their_engines() -> None:
    events: list[run_facts.Fact] = [
        ("n1", "run.note", None, AT, {"text": "hello"}),
        ("n2", "run.note", None, AT, {"text": "", "level": "warning"}),
        ("a1", "step.finished", 1, AT, {"engine": "codex", "model": "m", "sandboxed": True}),
        ("a2", "step.qa_verdict", 1, AT, {"verdict": "FAIL", "engine": "claude"}),
        ("a3", "step.failed", 1, AT, {"reason": "x"}),
        ("a4", "step.finished", None, AT, {"engine": "codex"}),  # not a step's: no attempt
    ]
    assert run_facts.notes(events) == [(AT, "info", "hello")]
    assert run_facts.attempts(events) == [(1, "execute", "finished", "codex", "m", True),
                                          (1, "qa", "FAIL", "claude", None, None),
                                          (1, "execute", "failed", None, None, None)]


def test_an_attempt_naming_its_engine_with_no_text_is_refused() -> None:
    """An event dflow did not write as it is: the fast path leaves `show` to the command."""
    with pytest.raises(ValueError):
        run_facts.attempts([("a", "step.finished", 1, AT, {"engine": ["codex"]})])
    with pytest.raises(ValueError):
        run_facts.attempts([("a", "step.finished", 1, AT, {"sandboxed": "yes"})])
