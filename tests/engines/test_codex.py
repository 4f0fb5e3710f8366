"""The codex engine against a fake `codex` on PATH that parses the real CLI's flags."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from deksdenflow.domain.config.settings import EngineConfig
from deksdenflow.engines.codex import parse_events
from deksdenflow.engines.registry import get_engine
from deksdenflow.errors import (
    ConfigError,
    EngineFailed,
    EngineNotFound,
    EngineOutputInvalid,
    EngineTimeout,
)

from .conftest import VERDICT_SCHEMA, FakeAgent, pid_is_gone, request


def codex(**config: object) -> object:
    return get_engine("codex", EngineConfig(kind="codex", **config))  # type: ignore[arg-type]


def test_codex_returns_the_last_message_and_usage_from_turn_completed(
    fake_codex: FakeAgent, workdir: Path
) -> None:
    usage = {"input_tokens": 420, "cached_input_tokens": 100, "output_tokens": 55}
    fake_codex.script(message='{"verdict": "PASS"}', usage=usage)

    result = codex(model="gpt-5-codex").run(  # type: ignore[attr-defined]
        request(workdir, output_schema=VERDICT_SCHEMA, prompt="review it\n")
    )

    assert json.loads(result.output) == {"verdict": "PASS"}
    assert (result.usage.input_tokens, result.usage.cached_input_tokens) == (420, 100)
    assert result.usage.output_tokens == 55
    assert (result.exit_status, result.cost, result.model) == (0, None, "gpt-5-codex")
    assert '"turn.completed"' in result.transcript
    rec = fake_codex.record()
    assert rec["prompt"] == "review it\n"
    assert rec["argv"][:2] == ["exec", "--json"] and rec["argv"][-1] == "-"
    assert fake_codex.flag("-m") == "gpt-5-codex"
    assert fake_codex.flag("--cd") == str(workdir)
    assert rec["schema"] == VERDICT_SCHEMA
    # Our temporary files live outside the worktree, so they are never committed.
    assert not fake_codex.flag("--output-last-message").startswith(str(workdir))


@pytest.mark.parametrize("sandbox", ["read-only", "workspace-write"])
def test_codex_sandbox_is_passed_through_and_decides_whether_files_change(
    fake_codex: FakeAgent, workdir: Path, sandbox: str
) -> None:
    fake_codex.script(write={"notes.txt": "hi\n"})

    codex().run(request(workdir, sandbox=sandbox, phase="execute"))  # type: ignore[attr-defined]

    assert fake_codex.flag("--sandbox") == sandbox
    assert (workdir / "notes.txt").exists() is (sandbox == "workspace-write")


def test_codex_without_schema_or_model_passes_neither_flag(
    fake_codex: FakeAgent, workdir: Path
) -> None:
    fake_codex.script(message="plain words")

    result = codex().run(request(workdir))  # type: ignore[attr-defined]

    argv = fake_codex.record()["argv"]
    assert "--output-schema" not in argv and "-m" not in argv
    assert result.output == "plain words"


def test_codex_falls_back_to_the_last_agent_message_event(
    fake_codex: FakeAgent, workdir: Path
) -> None:
    fake_codex.script(message="from the event stream", no_last_message=True)

    assert codex().run(request(workdir)).output == "from the event stream"  # type: ignore[attr-defined]


def test_codex_options_binary_extra_args_and_env(fake_codex: FakeAgent, workdir: Path) -> None:
    config = {
        "binary": str(fake_codex.bin_dir / "codex"),
        "extra_args": ["-c", 'model_reasoning_effort="high"', "--ephemeral"],
        "env": {"FAKE_ENV_MARK": 7},
    }

    codex(options=config).run(request(workdir))  # type: ignore[attr-defined]

    rec = fake_codex.record()
    assert fake_codex.flag("-c") == 'model_reasoning_effort="high"'
    assert "--ephemeral" in rec["argv"] and rec["env"] == {"FAKE_ENV_MARK": "7"}


def test_codex_rejects_extra_args_that_are_not_strings(workdir: Path) -> None:
    with pytest.raises(ConfigError, match=r"options.extra_args .* list of strings"):
        codex(options={"extra_args": [1, 2]}).run(request(workdir))  # type: ignore[attr-defined]


def test_missing_codex_binary_names_the_demo_engine(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    with pytest.raises(EngineNotFound, match=r"`codex` command.*--engine demo"):
        codex().run(request(workdir))  # type: ignore[attr-defined]


def test_codex_timeout_kills_the_whole_process_group(
    fake_codex: FakeAgent, workdir: Path, tmp_path: Path
) -> None:
    pid_file = tmp_path / "child.pid"
    fake_codex.script(hang=str(pid_file))

    with pytest.raises(
        EngineTimeout, match=r"within 1 s and was killed.*Codex last said: Reconnecting"
    ) as exc:
        codex().run(request(workdir, timeout_s=1))  # type: ignore[attr-defined]

    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10  # reaping is asynchronous; this is a wait, not a timing test
    while not pid_is_gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pid_is_gone(child), "the agent's child process outlived the timeout"
    assert '"turn.started"' in exc.value.transcript


def test_codex_turn_failed_is_a_failed_attempt_with_codex_own_words(
    fake_codex: FakeAgent, workdir: Path
) -> None:
    fake_codex.script(fail="unexpected status 401 Unauthorized")

    with pytest.raises(
        EngineFailed, match=r"exited with status 1: unexpected status 401 Unauthorized$"
    ) as exc:
        codex().run(request(workdir))  # type: ignore[attr-defined]

    assert '"turn.failed"' in exc.value.transcript


def test_codex_non_zero_exit_quotes_stderr(fake_codex: FakeAgent, workdir: Path) -> None:
    fake_codex.script(exit=3, stderr="model gpt-9 does not exist")

    with pytest.raises(EngineFailed, match=r"status 3: model gpt-9 does not exist"):
        codex().run(request(workdir))  # type: ignore[attr-defined]


def test_codex_output_failing_the_schema_is_an_error(fake_codex: FakeAgent, workdir: Path) -> None:
    fake_codex.script(message='{"verdict": "MAYBE"}')

    with pytest.raises(EngineOutputInvalid, match=r"fails the output schema at verdict"):
        codex().run(request(workdir, output_schema=VERDICT_SCHEMA))  # type: ignore[attr-defined]


def test_codex_output_that_is_not_json_is_an_error(fake_codex: FakeAgent, workdir: Path) -> None:
    fake_codex.script(message="Looks fine to me!")

    with pytest.raises(EngineOutputInvalid, match=r"not JSON"):
        codex().run(request(workdir, output_schema=VERDICT_SCHEMA))  # type: ignore[attr-defined]


def test_event_parser_sums_turns_and_skips_lines_that_are_not_events() -> None:
    stdout = "\n".join(
        [
            "WARNING: proceeding, even though we could not update PATH",
            json.dumps(
                {"type": "turn.completed", "usage": {"input_tokens": 10, "output_tokens": 2}}
            ),
            "{not json",
            json.dumps(
                {"type": "turn.completed", "usage": {"input_tokens": 5, "output_tokens": -1}}
            ),
        ]
    )

    events = parse_events(stdout)

    assert (events.usage.input_tokens, events.usage.output_tokens) == (15, 2)
    assert events.failure == "" and events.last_message == ""


def test_an_unknown_flag_fails_like_the_real_cli(fake_codex: FakeAgent, workdir: Path) -> None:
    # Keeps the fake honest: a flag Codex would reject must not pass silently here either.
    with pytest.raises(EngineFailed, match=r"status 2: .*unexpected argument"):
        codex(options={"extra_args": ["--no-such-flag"]}).run(request(workdir))  # type: ignore[attr-defined]


def test_codex_schema_refused_by_the_api_is_permanent_with_the_fix(
    fake_codex: FakeAgent, workdir: Path
) -> None:
    """What Codex prints when the API refuses `--output-schema` (HTTP 400 invalid_json_schema):
    the same schema is refused every time, so the attempt is not retried."""
    fake_codex.script(fail="Invalid schema for response_format 'codex_output_schema': In "
                      "context=(), 'additionalProperties' is required to be supplied and to "
                      "be false.")

    with pytest.raises(EngineFailed) as exc:
        codex().run(request(workdir, output_schema=VERDICT_SCHEMA))  # type: ignore[attr-defined]

    assert exc.value.permanent
    assert "refused the output schema" in str(exc.value)
    assert "codex_output_schema" in str(exc.value) and "--engine" in str(exc.value)


def test_a_codex_without_output_schema_is_permanent_and_says_upgrade(
    tmp_path: Path, workdir: Path
) -> None:
    old = tmp_path / "old-codex"
    old.write_text("#!/bin/sh\necho \"error: unexpected argument '--output-schema' found\" >&2\n"
                   "exit 2\n")
    old.chmod(0o755)

    with pytest.raises(EngineFailed) as exc:
        codex(options={"binary": str(old)}).run(  # type: ignore[attr-defined]
            request(workdir, output_schema=VERDICT_SCHEMA))

    assert exc.value.permanent and "upgrade" in str(exc.value)


def test_a_codex_turn_that_fails_otherwise_stays_transient(
    fake_codex: FakeAgent, workdir: Path
) -> None:
    fake_codex.script(fail="stream disconnected before completion")

    with pytest.raises(EngineFailed) as exc:
        codex().run(request(workdir, output_schema=VERDICT_SCHEMA))  # type: ignore[attr-defined]

    assert not exc.value.permanent
