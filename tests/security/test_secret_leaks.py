"""A hostile agent plants secrets everywhere it can reach; none may reach the state ref (in any
commit of its history) or the terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deksdenflow.context.project import Project
from deksdenflow.engines.demo_files import plan as demo_plan
from deksdenflow.workflow.lifecycle import runs
from tests.engines.conftest import FakeAgent, install_fake
from tests.workflow.conftest import configure, settle

from .conftest import fsck, leaks, reachable_blobs
from .corpus import FORMATS, contexts, needle

ENV_SECRET = "env-only-secret-value-77"


def _planted(i: int) -> str:
    names = list(FORMATS)
    return FORMATS[names[i % len(names)]]


def _hostile_script() -> list[dict[str, Any]]:
    plan = demo_plan("0001-x")
    for n, step in enumerate(plan["steps"]):
        step["title"] = f"{step['title']} {_planted(n)} \x1b[2J\x1b]0;pwned\x07"
    plan["summary"] = "plan " + " | ".join(contexts(_planted(5)).values())
    everything = "\n".join(FORMATS.values()) + f"\n{ENV_SECRET}\n" + json.dumps(
        {"k": "\n".join(FORMATS.values())})
    verdict_fail = json.dumps({"verdict": "FAIL", "summary": f"saw {_planted(7)}",
                               "findings": [f"leaked {v}" for v in FORMATS.values()]})
    calls: list[dict[str, Any]] = [{"message": json.dumps(plan), "stderr": everything}]
    calls.append({"write": {"step1.txt": "ok\n"}, "message": f"did it {everything}",
                  "stderr": everything})
    calls.append({"message": verdict_fail, "stderr": everything})
    calls.append({"fail": f"boom {everything}", "stderr": everything})
    return calls


def _hostile_codex(project: Project, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> FakeAgent:
    """The hostile fake Codex for every phase, with a secret in the environment too."""
    monkeypatch.setenv("SOME_SERVICE_TOKEN", ENV_SECRET)
    codex = install_fake("codex", tmp_path, monkeypatch)
    codex.script(queue=_hostile_script())
    configure(project, {"phases.default": '"codex"', "retry.max_attempts": 1,
                        "qa.auto_retry": 1})
    return codex


def test_no_planted_secret_reaches_the_ref_or_the_terminal(
    project: Project, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any
) -> None:
    codex = _hostile_codex(project, tmp_path, monkeypatch)
    runs.create_run(project, "x", "add a greeting")

    settle(project)

    assert codex.pending() == []  # plan, execute, QA FAIL, the re-run that fails: all ran

    needles = [needle(name) for name in FORMATS] + [ENV_SECRET]
    assert leaks(reachable_blobs(repo), needles) == []
    printed = []
    for args in (["status"], ["status", "--json"], ["show", "1"], ["show", "1", "--json"],
                 ["events"], ["events", "--json"]):
        result = cli(*args, cwd=repo)
        printed.append(result.output)  # type: ignore[attr-defined]
    assert leaks(printed, needles) == []
    assert not any("\x1b]" in out or "\x1b[2J" in out for out in printed)
    fsck(repo)


def test_no_planted_secret_is_printed_by_run_wait(
    project: Project, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any
) -> None:
    _hostile_codex(project, tmp_path, monkeypatch)
    runs.create_run(project, "x", "add a greeting", plan=False)

    waited = cli("run", "1", "--wait", cwd=repo)  # every job's outcome line is printed

    needles = [needle(name) for name in FORMATS] + [ENV_SECRET]
    assert "failed" in waited.output  # type: ignore[attr-defined]
    assert leaks([waited.output], needles) == []  # type: ignore[attr-defined]
    assert "\x1b]" not in waited.output  # type: ignore[attr-defined]
    assert leaks(reachable_blobs(repo), needles) == []
