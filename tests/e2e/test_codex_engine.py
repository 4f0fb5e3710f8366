"""dflow's `codex` engine driving the real Codex CLI: flags, sandbox, output, usage, failures."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from deksdenflow.domain.config.settings import EngineConfig
from deksdenflow.engines.base import EngineRequest, Phase, Sandbox
from deksdenflow.engines.registry import get_engine
from deksdenflow.errors import EngineError

from ..conftest import make_repo
from .conftest import MODEL, CodexSetup
from .model_server import Message, Recorded, ShellCall, Usage

pytestmark = pytest.mark.e2e

VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["PASS", "FAIL"]},
        "summary": {"type": "string"},
    },
    "required": ["verdict", "summary"],
    "additionalProperties": False,
}


def _request(
    repo: Path, sandbox: Sandbox, phase: Phase, schema: dict[str, Any] | None = VERDICT_SCHEMA,
    timeout_s: float = 120.0,
) -> EngineRequest:  # fmt: skip
    return EngineRequest(
        prompt=f"dflow {phase} prompt\n", cwd=repo, sandbox=sandbox, phase=phase, model=MODEL,
        timeout_s=timeout_s, output_schema=schema,
    )  # fmt: skip


def _engine():  # type: ignore[no-untyped-def]
    return get_engine("codex", EngineConfig(kind="codex", model=MODEL))


def _turn_metadata(request: Recorded) -> dict[str, Any]:
    """What Codex says about the turn it runs (sandbox mode, workspace) in its request header."""
    return dict(json.loads(request.headers["x-codex-turn-metadata"]))


def test_engine_executes_with_workspace_write_and_returns_output_and_usage(
    codex_setup: CodexSetup, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    codex_setup.server.queue(
        ShellCall("printf 'print(1)\\n' > app.py", Usage(120, 15)),
        Message('{"verdict": "PASS", "summary": "wrote app.py"}', Usage(300, 40, 100)),
    )

    result = _engine().run(_request(repo, "workspace-write", "execute"))

    assert (repo / "app.py").read_text() == "print(1)\n"
    assert json.loads(result.output) == {"verdict": "PASS", "summary": "wrote app.py"}
    assert (result.usage.input_tokens, result.usage.output_tokens) == (420, 55)
    assert result.usage.cached_input_tokens == 100
    assert result.exit_status == 0
    first = codex_setup.server.model_requests()[0]
    assert first.body["model"] == MODEL
    assert "dflow execute prompt" in first.text()
    assert first.body["text"]["format"]["schema"] == VERDICT_SCHEMA
    metadata = _turn_metadata(first)
    assert metadata["sandbox_mode"] == "workspace-write"
    assert list(metadata["workspaces"]) == [str(repo)]


def test_engine_plans_read_only(codex_setup: CodexSetup, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    codex_setup.server.queue(Message('{"verdict": "PASS", "summary": "ok"}'))

    result = _engine().run(_request(repo, "read-only", "plan"))

    assert json.loads(result.output)["verdict"] == "PASS"
    (only,) = codex_setup.server.model_requests()
    assert _turn_metadata(only)["sandbox_mode"] == "read-only"


def test_engine_rejects_output_that_breaks_the_schema(
    codex_setup: CodexSetup, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    codex_setup.server.queue(Message("looks good to me"))  # not JSON: agent output is untrusted
    engine = _engine()

    with pytest.raises(EngineError, match="(?i)schema|json"):
        engine.run(_request(repo, "read-only", "qa"))


def test_engine_reports_a_failed_turn_with_the_model_error(
    codex_setup: CodexSetup, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")  # nothing scripted: the server refuses the request
    engine = _engine()

    with pytest.raises(EngineError, match="no reply left"):
        engine.run(_request(repo, "read-only", "qa"))


def _processes_mentioning(marker: str) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found.append(f"{pid}: {cmdline}")
    return found


@pytest.mark.slow
def test_engine_timeout_stops_codex_and_the_commands_it_started(
    codex_setup: CodexSetup, tmp_path: Path
) -> None:
    # npm's `codex` is a Node wrapper around the native binary: killing the wrapper alone leaves
    # the agent (and its shell commands) running in the worktree.
    repo = make_repo(tmp_path / "repo")
    marker = f"dflow-timeout-{uuid.uuid4().hex}"
    codex_setup.server.queue(ShellCall(f"sleep 60 # {marker}"), Message("{}"))

    engine = _engine()

    with pytest.raises(EngineError, match="(?i)time"):
        engine.run(_request(repo, "workspace-write", "execute", schema=None, timeout_s=3))

    # The sandbox helper dies through PR_SET_PDEATHSIG, a moment after its parent: give it
    # that moment (far less than the `sleep 60` it would otherwise outlive).
    deadline = time.monotonic() + 15
    while _processes_mentioning(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_mentioning(marker) == []
