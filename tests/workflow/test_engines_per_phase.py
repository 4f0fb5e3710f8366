"""Engines chosen per phase, through a stand-in `codex` on PATH (the allowed fake)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.runs.models import RunStatus
from deksdenflow.domain.schemas import schema_for
from deksdenflow.engines.demo_files import plan as demo_plan
from deksdenflow.workflow.lifecycle import controls
from tests.engines.conftest import install_fake
from tests.workflow.conftest import configure, settle


def test_codex_plans_read_only_with_the_schema_and_demo_executes(
        project: Project, new_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    codex = install_fake("codex", tmp_path, monkeypatch)
    codex.script(message=json.dumps(demo_plan("0001-x")),
                 usage={"input_tokens": 1200, "cached_input_tokens": 0, "output_tokens": 300})
    configure(project, {"phases.plan": '"codex"', "engines.codex.kind": '"codex"',
                        "engines.codex.model": '"gpt-test"'})
    created = new_run()

    snap = settle(project)

    assert snap.run.status == RunStatus.COMPLETED
    assert codex.flag("--sandbox") == "read-only" and codex.flag("-m") == "gpt-test"
    record = codex.record()
    assert record["schema"] == schema_for("plan")
    assert Path(record["cwd"]).resolve() == Path(created.run.worktree).resolve()
    assert "Protocol folder: .protocols/0001-x/" in record["prompt"]
    assert snap.run.usage.input_tokens >= 1200
    assert {s.engine for s in snap.steps} == {"demo"}


def _path_without_agents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PATH with git only, so no codex (real or fake) can be found."""
    bin_dir = tmp_path / "git-only"
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(shutil.which("git") or "/usr/bin/git")
    monkeypatch.setenv("PATH", str(bin_dir))


def test_a_missing_engine_binary_fails_the_attempt_and_names_the_demo_engine(
        project: Project, new_run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _path_without_agents(tmp_path, monkeypatch)
    configure(project, {"phases.default": '"codex"', "retry.max_attempts": 1})
    new_run()
    snap = controls.wait(project, "1", "w-test")
    assert snap.run.status == RunStatus.BLOCKED
    assert "--engine demo" in snap.run.blocks["plan"]


def test_the_run_engine_overrides_every_phase(project: Project, new_run,
                                              monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    _path_without_agents(tmp_path, monkeypatch)
    configure(project, {"phases.default": '"codex"'})
    new_run(engine="demo")
    assert settle(project).run.status == RunStatus.COMPLETED
