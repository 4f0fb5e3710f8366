"""Whole protocols through the workflow with `codex` or `claude` for every phase (fakes on PATH).

The engine tests pin each engine's contract; these prove the workflow and the engines agree on
it: plan read-only with the plan schema, execute workspace-write in the run's worktree (and
the change is committed), QA read-only with the verdict schema, usage recorded per step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.runs.models import RunStatus, StepStatus
from deksdenflow.engines.demo_files import plan as demo_plan
from deksdenflow.workflow.lifecycle import runs
from tests.conftest import git
from tests.workflow.conftest import configure, settle

from .conftest import install_fake

PASS = json.dumps({"verdict": "PASS", "summary": "checked", "findings": []})


def codex_script(steps: int) -> list[dict[str, Any]]:
    usage = {"input_tokens": 1000, "cached_input_tokens": 200, "output_tokens": 100}
    calls: list[dict[str, Any]] = [{"message": json.dumps(demo_plan("0001-x")), "usage": usage}]
    for n in range(1, steps + 1):
        calls.append(
            {"write": {f"step{n}.txt": f"step {n}\n"}, "message": f"did {n}", "usage": usage}
        )
        calls.append({"message": PASS, "usage": usage})
    return calls


def test_codex_for_every_phase_completes_a_protocol(
    project: Project, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    codex = install_fake("codex", tmp_path, monkeypatch)
    codex.script(queue=codex_script(3))
    configure(project, {"phases.default": '"codex"'})
    created = runs.create_run(project, "x", "add a greeting")

    snap = settle(project)

    assert snap.run.status == RunStatus.COMPLETED, snap.run
    assert codex.pending() == []
    sandboxes = [call["argv"][call["argv"].index("--sandbox") + 1] for call in codex.calls()]
    assert sandboxes == ["read-only"] + ["workspace-write", "read-only"] * 3
    assert {call["cwd"] for call in codex.calls()} == {str(Path(created.run.worktree))}
    files = git("ls-tree", "-r", "--name-only", "0001-x", cwd=repo).splitlines()
    assert {"step1.txt", "step2.txt", "step3.txt", ".protocols/0001-x/plan.md"} <= set(files)
    assert [(s.status, s.engine, s.qa.verdict if s.qa else None) for s in snap.steps] == [
        (StepStatus.COMPLETED, "codex", "PASS")
    ] * 3
    assert all(s.usage.input_tokens >= 1000 for s in snap.steps)


def test_a_malformed_codex_verdict_blocks_the_step(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    codex = install_fake("codex", tmp_path, monkeypatch)
    script = codex_script(1)
    script[2] = {"message": '{"verdict": "LGTM"}'}  # not PASS/FAIL: never taken as a PASS
    codex.script(queue=script)
    configure(project, {"phases.default": '"codex"', "retry.max_attempts": 1})
    runs.create_run(project, "x", "add a greeting")

    snap = settle(project)

    first = snap.steps[0]
    assert (first.status, first.qa, snap.run.status) == (
        StepStatus.BLOCKED,
        None,
        RunStatus.BLOCKED,
    )


def test_claude_for_every_phase_completes_a_protocol(
    project: Project, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    claude = install_fake("claude", tmp_path, monkeypatch)
    usage = {"input_tokens": 10, "cache_read_input_tokens": 500, "output_tokens": 50}
    calls: list[dict[str, Any]] = [{"result": json.dumps(demo_plan("0001-x")), "usage": usage}]
    for n in range(1, 4):
        calls.append({"write": {f"c{n}.txt": "x\n"}, "result": f"did {n}", "usage": usage})
        calls.append({"result": f"```json\n{PASS}\n```", "usage": usage, "cost": 0.01})
    claude.script(queue=calls)
    configure(project, {"phases.default": '"claude"'})
    runs.create_run(project, "x", "add a greeting")

    snap = settle(project)

    assert snap.run.status == RunStatus.COMPLETED, snap.run
    modes = [c["argv"][c["argv"].index("--permission-mode") + 1] for c in claude.calls()]
    assert modes == ["default"] + ["acceptEdits", "default"] * 3
    files = git("ls-tree", "-r", "--name-only", "0001-x", cwd=repo).splitlines()
    assert {"c1.txt", "c2.txt", "c3.txt"} <= set(files)
    assert all(s.cost and s.cost > 0 for s in snap.steps)
    # Every attempt's event says it ran in Claude Code's sandbox, as the stand-in reported.
    figures = [e.data for e in project.view().run_events(snap.run.uid)
               if e.type in ("step.finished", "step.qa_verdict")]
    assert len(figures) == 6 and all(getattr(d, "sandboxed", None) is True for d in figures)
