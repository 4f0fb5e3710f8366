"""The real Codex CLI against the scripted server, without dflow in between.

These pin down the wire format and the CLI behaviour dflow's `codex` engine relies on (flags,
sandbox names, `--json` events, `--output-last-message`, exit codes), so that a break in them
shows up here, apart from any bug in our own code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..conftest import make_repo
from .conftest import MODEL, CodexSetup
from .model_server import Message, Recorded, ShellCall, Usage

pytestmark = pytest.mark.e2e

VERDICT_SCHEMA = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["PASS", "FAIL"]}},
    "required": ["verdict"],
    "additionalProperties": False,
}


def _exec(setup: CodexSetup, repo: Path, tmp_path: Path, sandbox: str, prompt: str):  # type: ignore[no-untyped-def]
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(VERDICT_SCHEMA))
    last = tmp_path / "last.txt"
    result = setup.exec(
        "--json",
        "-m",
        MODEL,
        "--sandbox",
        sandbox,
        "--cd",
        str(repo),
        "--output-schema",
        str(schema),
        "--output-last-message",
        str(last),
        prompt=prompt,
        cwd=tmp_path,
    )
    return result, last


def _tool_outputs(request: Recorded) -> list[str]:
    return [
        str(i["output"]) for i in request.body["input"] if i.get("type") == "function_call_output"
    ]


def test_codex_runs_the_scripted_shell_call_in_workspace_write_and_reports_usage(
    codex_setup: CodexSetup, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    codex_setup.server.queue(
        ShellCall(
            "mkdir -p notes && printf 'written by codex\\n' > notes/hello.txt", Usage(120, 15)
        ),
        Message('{"verdict": "PASS"}', Usage(300, 40, cached_input_tokens=100)),
    )

    result, last = _exec(codex_setup, repo, tmp_path, "workspace-write", "write the note\n")

    assert result.returncode == 0, result.stderr
    assert (repo / "notes" / "hello.txt").read_text() == "written by codex\n"
    assert last.read_text() == '{"verdict": "PASS"}'
    events = result.events()
    assert [e["type"] for e in events if e["type"].startswith(("thread.", "turn."))] == [
        "thread.started",
        "turn.started",
        "turn.completed",
    ]
    # turn.completed sums the usage of every model request in the turn.
    usage = events[-1]["usage"]
    assert (usage["input_tokens"], usage["cached_input_tokens"], usage["output_tokens"]) == (
        420,
        100,
        55,
    )
    first, second = codex_setup.server.model_requests()
    assert "write the note" in first.text()
    assert first.headers["authorization"] == "Bearer sk-scripted-e2e-key-0000000000000000"
    assert first.body["model"] == MODEL
    assert first.body["text"]["format"]["schema"] == VERDICT_SCHEMA
    (output,) = _tool_outputs(second)
    assert "exited with code 0" in output


def test_codex_read_only_sandbox_refuses_writes(codex_setup: CodexSetup, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    codex_setup.server.queue(
        ShellCall("printf 'nope\\n' > forbidden.txt"), Message('{"verdict": "FAIL"}')
    )

    result, last = _exec(codex_setup, repo, tmp_path, "read-only", "try to write\n")

    assert result.returncode == 0, result.stderr
    assert not (repo / "forbidden.txt").exists()
    # What Codex told the model about the command: it ran, in the sandbox, and was refused.
    (output,) = _tool_outputs(codex_setup.server.model_requests()[1])
    assert "Read-only file system" in output
    assert last.read_text() == '{"verdict": "FAIL"}'


def test_codex_exits_non_zero_with_turn_failed_when_the_model_errors(
    codex_setup: CodexSetup, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")  # nothing queued: the server answers HTTP 400

    result, last = _exec(codex_setup, repo, tmp_path, "read-only", "anything\n")

    assert result.returncode == 1
    failed = result.events()[-1]
    assert failed["type"] == "turn.failed"
    assert "no reply left" in failed["error"]["message"]
    assert not last.exists() or last.read_text() == ""
    assert codex_setup.server.errors, "the server should have seen the unscripted request"


def test_codex_fails_when_the_api_refuses_a_non_strict_output_schema(
    codex_setup: CodexSetup, tmp_path: Path
) -> None:
    # OpenAI's strict structured outputs need every property required; Codex passes the schema
    # on unchanged, so a lax schema fails the run (the scripted server refuses it the same way).
    repo = make_repo(tmp_path / "repo")
    properties = {"verdict": {"type": "string"}, "note": {"type": "string"}}
    lax = {"type": "object", "properties": properties, "required": ["verdict"],
           "additionalProperties": False}  # fmt: skip
    schema = tmp_path / "lax.json"
    schema.write_text(json.dumps(lax))
    codex_setup.server.queue(Message('{"verdict": "PASS"}'))

    result = codex_setup.exec(
        "--json", "-m", MODEL, "--sandbox", "read-only", "--cd", str(repo),
        "--output-schema", str(schema), prompt="review\n", cwd=tmp_path,
    )  # fmt: skip

    assert result.returncode == 1
    failed = result.events()[-1]
    assert failed["type"] == "turn.failed"
    assert "Missing 'note'" in failed["error"]["message"]
    assert codex_setup.server.pending(), "a refused request must not use up the scripted reply"
