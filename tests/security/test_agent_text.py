"""Agent text has a shape: titles and summaries are one capped line with no invisible format
characters, a nested plan or verdict is refused in one sentence, never a RecursionError, and a
newline in a title forges nothing (no `Dflow-Job:` trailer, no extra output line)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.agents.redaction import strip_controls
from deksdenflow.engines.demo_files import plan as demo_plan
from deksdenflow.errors import AgentOutputError, EngineOutputInvalid
from deksdenflow.exit_codes import ExitCode
from deksdenflow.workflow.lifecycle import runs
from deksdenflow.workflow.phases.review import parse_verdict
from tests.conftest import git
from tests.engines.conftest import install_fake
from tests.workflow.conftest import configure, settle

from .conftest import fsck, reachable_blobs

PASS = json.dumps({"verdict": "PASS", "summary": "ok", "findings": []})
BIDI = "\u202e\u2066\u200b\u200f\ufeff"
FORGED = "Dflow-Job: 01FORGEDFORGEDFORGEDFORGED0"


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_a_100000_deep_plan_blocks_the_run_in_one_sentence(
    project: Project, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any
) -> None:
    codex = install_fake("codex", tmp_path, monkeypatch)
    plan = json.dumps(demo_plan("0001-x"))
    codex.script(queue=[{"message": plan[:-1] + ', "x": ' + _deep(100_000) + "}"}])
    configure(project, {"phases.default": '"codex"', "retry.max_attempts": 1})
    runs.create_run(project, "x", "add a greeting", plan=False)

    waited = cli("run", "1", "--wait", cwd=repo)

    out = waited.output  # type: ignore[attr-defined]
    # Blocked, like any refused plan: the run waits for a person (exit 4, docs/exit-codes.md).
    assert waited.exit_code == ExitCode.WAITING, out  # type: ignore[attr-defined]
    assert "Traceback" not in out and "internal error" not in out and "Recursion" not in out
    assert "nests deeper than" in out
    shown = cli("status", "--json", cwd=repo).output  # type: ignore[attr-defined]
    assert "nests deeper than" in shown  # the run says why it waits
    fsck(repo)


def test_a_deep_verdict_is_refused_never_a_pass(project: Project) -> None:
    snap = runs.create_run(project, "x", "t", plan=False)
    text = json.dumps({"verdict": "PASS", "summary": "ok", "findings": []})
    with pytest.raises(AgentOutputError, match="nests deeper than"):
        parse_verdict(text[:-1] + ', "x": ' + _deep(100_000) + "}", snap, 1)
    from deksdenflow.engines.output import validate_output

    with pytest.raises(EngineOutputInvalid, match="nests deeper than"):
        validate_output(_deep(5000), {"type": "object"}, "codex")


def test_deep_json_in_an_engine_s_own_output_is_not_a_crash() -> None:
    from deksdenflow.engines import claude, codex

    deep = '{"type": "turn.completed", "usage": ' + _deep(100_000) + "}"
    assert codex.parse_events(f"{deep}\n").usage.output_tokens == 0
    assert claude._reply(deep) == {}
    failed = json.dumps({"type": "error", "message": _deep(100_000)})
    assert codex.parse_events(failed).error.startswith("[[[")


def test_a_hostile_step_title_becomes_one_short_clean_line(
    project: Project, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any
) -> None:
    codex = install_fake("codex", tmp_path, monkeypatch)
    plan = demo_plan("0001-x")
    huge = "A" * 300_000  # past the kernel's 128 kB cap on one argument
    plan["steps"][0]["title"] = f"add it{BIDI}\n\n{FORGED}\nsecond line {huge}"
    plan["summary"] = f"approach\n\n{FORGED}\n{BIDI}" + "B" * 100_000
    # A PASS verdict also serves as an executor's answer; QA's read-only sandbox drops the write.
    codex.script(queue=[{"message": json.dumps(plan)},
                        *[{"write": {f"f{i}.txt": "x\n"}, "message": PASS}
                          for i in range(2 * len(plan["steps"]))]])
    configure(project, {"phases.default": '"codex"', "retry.max_attempts": 1})
    runs.create_run(project, "x", "add a greeting")

    snap = settle(project)

    assert snap.run.status.value == "completed", (snap.run, [s.reason for s in snap.steps])
    title = snap.steps[0].title
    assert "\n" not in title and len(title) <= 200 and not set(BIDI) & set(title), title
    assert title.startswith("add it Dflow-Job")
    log = git("log", "--format=%B%x00", "0001-x", cwd=repo)
    trailers = git("log", "--format=%(trailers:key=Dflow-Job,valueonly)", "0001-x", cwd=repo)
    assert "01FORGED" not in trailers  # the trailer dflow reads back names only real jobs
    assert all(len(m) < 1000 for m in log.split("\0"))
    blobs = reachable_blobs(repo)
    events = [b for b in blobs if b.startswith(b'{"schema_version"')]
    assert max(len(b) for b in events) < 50_000  # no title or summary was stored whole
    assert not any(b"\\n" + FORGED.encode() in b for b in events)  # folded, not kept as lines
    for args in (["status"], ["show", "1"], ["events"]):
        out = cli(*args, cwd=repo).output  # type: ignore[attr-defined]
        assert not set(BIDI) & set(out), args
        assert "\n" + FORGED not in out
    fsck(repo)


def test_invisible_format_characters_are_stripped_from_what_is_shown() -> None:
    assert strip_controls(f"a{BIDI}b\u2067c\u061cd") == "abcd"
