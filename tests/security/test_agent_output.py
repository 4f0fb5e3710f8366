"""Agent output is parsed strictly: what a lenient parser would quietly accept is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deksdenflow.context.project import Project
from deksdenflow.engines.demo_files import plan as demo_plan
from deksdenflow.errors import AgentOutputError
from deksdenflow.workflow.lifecycle import runs
from deksdenflow.workflow.phases.planning import MAX_FILE_BYTES, parse_plan
from deksdenflow.workflow.phases.review import parse_verdict


@pytest.fixture
def snap(project: Project) -> Any:
    return runs.create_run(project, "x", "t", plan=False)


def test_a_step_file_name_with_a_trailing_newline_is_refused(snap: Any) -> None:
    plan = demo_plan("0001-x")
    plan["steps"][0]["file"] += "\n"
    with pytest.raises(AgentOutputError, match="must be NN-short-name.md"):
        parse_plan(json.dumps(plan), snap)


def test_a_proposed_name_with_a_trailing_newline_is_refused(snap: Any) -> None:
    plan = demo_plan("0001-x")
    plan["files"].append({"path": "notes.md\n", "content": "x"})
    with pytest.raises(AgentOutputError, match="not a plain file name"):
        parse_plan(json.dumps(plan), snap)


def test_a_file_listed_twice_cannot_slip_past_the_size_cap(snap: Any) -> None:
    plan = demo_plan("0001-x")
    half = "x" * (MAX_FILE_BYTES - 10)
    plan["files"] += [{"path": "big.md", "content": half}, {"path": "big.md", "content": half}]
    with pytest.raises(AgentOutputError, match="more than once"):
        parse_plan(json.dumps(plan), snap)


def test_a_verdict_with_a_duplicate_key_is_never_a_pass(snap: Any) -> None:
    text = '{"verdict": "FAIL", "summary": "broken", "findings": ["x"], "verdict": "PASS"}'
    assert json.loads(text)["verdict"] == "PASS"  # what a lenient parser would make of it
    with pytest.raises(AgentOutputError, match="appears twice"):
        parse_verdict(text, snap, 1)


def test_a_plan_with_a_duplicate_key_is_refused(snap: Any) -> None:
    text = json.dumps(demo_plan("0001-x"))
    with pytest.raises(AgentOutputError, match="appears twice"):
        parse_plan(text[:-1] + ', "summary": "other"}', snap)
