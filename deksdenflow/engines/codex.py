"""The `codex` engine: OpenAI's Codex CLI, run as `codex exec` (flags: docs/engines.md)."""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..domain.agents.nesting import too_deep
from ..domain.runs.models import Usage
from ..errors import EngineFailed, EngineRefused, EngineTimeout
from .base import ConfiguredEngine, EngineRequest, EngineResult
from .output import validate_output
from .process import Completed, exit_message, run_process
from .refusals import mentions_schema, schema_refusal, unknown_flag
from .streams import read_capped


class CodexEngine(ConfiguredEngine):
    """`codex exec --json` with the prompt on stdin; the final message comes from `-o FILE`."""

    kind = "codex"
    own_env = ("CODEX_*", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID",
               "OPENAI_ORGANIZATION", "OPENAI_PROJECT")

    def env_names(self) -> tuple[str, ...]:
        """The `env_key` of every model provider in Codex's config.toml: the key variable the
        user told Codex to read is the engine's own."""
        return provider_keys()

    def run(self, request: EngineRequest) -> EngineResult:
        options = self.options(request)
        with tempfile.TemporaryDirectory(prefix="dflow-codex-") as tmp:
            # Outside the worktree, so nothing of ours is ever committed with the agent's work.
            last = Path(tmp) / "last-message.txt"
            schema = Path(tmp) / "output-schema.json" if request.output_schema else None
            if schema is not None:
                schema.write_text(json.dumps(request.output_schema), encoding="utf-8")
            argv = self.argv(request, options, last, schema)
            try:
                done = run_process(
                    argv,
                    engine=self.name,
                    cwd=request.cwd,
                    timeout_s=request.timeout_s,
                    stdin=request.prompt,
                    env=self.agent_env(request, options),
                    check=False,
                )
            except EngineTimeout as exc:
                raise _explained(exc) from None
            final = read_capped(last) if last.exists() else ""
        return self.result(request, done, final)

    def argv(
        self, request: EngineRequest, options: dict[str, Any], last: Path, schema: Path | None
    ) -> list[str]:
        argv = [str(options.get("binary") or "codex"), "exec", "--json"]
        model = self.model(request)
        if model:
            argv += ["-m", model]
        argv += ["--sandbox", request.sandbox, "--cd", str(request.cwd)]
        if request.sandbox == "workspace-write":
            # Codex keeps /tmp and $TMPDIR writable by default; a repository (and so its git
            # dir and dflow's state ref) under them would be writable too (docs/security.md).
            argv += ["-c", "sandbox_workspace_write.exclude_slash_tmp=true",
                     "-c", "sandbox_workspace_write.exclude_tmpdir_env_var=true"]
        # dflow's worktrees are git checkouts, but Codex's trust check would refuse a plain
        # directory (a command-engine style setup, tests); dflow already chose where to run.
        argv += ["--skip-git-repo-check", "--output-last-message", str(last)]
        if schema is not None:
            argv += ["--output-schema", str(schema)]
        argv += self.args_option(options, "extra_args")
        return [*argv, "-"]  # `-`: read the prompt from stdin (never on the command line)

    def result(self, request: EngineRequest, done: Completed, final: str) -> EngineResult:
        events = parse_events(done.stdout)
        transcript = done.transcript()
        if done.returncode != 0 or events.failure:
            detail = events.failure or events.error
            if request.output_schema is not None:
                _refused(self.name, done, detail, transcript)
            raise EngineFailed(exit_message(self.name, done, detail), transcript=transcript)
        output = final or events.last_message
        return EngineResult(
            output=validate_output(output, request.output_schema, self.name, transcript=transcript),
            usage=events.usage,
            cost=None,  # Codex reports tokens, not money
            exit_status=done.returncode,
            transcript=transcript,
            model=self.model(request),
        )


@dataclass
class CodexEvents:
    """What dflow takes from the `--json` event stream."""

    usage: Usage = field(default_factory=Usage)
    last_message: str = ""
    failure: str = ""  # a `turn.failed`: the turn, and so the attempt, failed
    error: str = ""  # the last `error` event: may be a retried hiccup, so only a detail


def parse_events(stdout: str) -> CodexEvents:
    """Sum `turn.completed` usage; keep the last agent message, first failure, last error."""
    found = CodexEvents()
    for line in stdout.splitlines():
        event = _json_object(line)
        kind = event.get("type")
        if kind == "turn.completed":
            found.usage = found.usage + _usage(event.get("usage"))
        elif kind == "item.completed":
            item = event.get("item") or {}
            if item.get("type") == "agent_message" and isinstance(item.get("text"), str):
                found.last_message = item["text"]
        elif kind == "turn.failed" and not found.failure:
            found.failure = _failure_text(event)
        elif kind == "error":
            found.error = _failure_text(event)
    return found


def _refused(engine: str, done: Completed, detail: str, transcript: str) -> None:
    """Raise EngineRefused when Codex (or the API behind it) refused `--output-schema`:
    every retry would be refused the same way (docs/decisions/0830)."""
    if unknown_flag(done.stderr, "--output-schema"):
        raise EngineRefused(
            f"engine '{engine}' is a Codex CLI that does not know --output-schema; upgrade it "
            f"(npm install -g @openai/codex) or set [engines.{engine}] options.binary to a "
            "newer one",
            transcript=transcript,
        )
    if detail and mentions_schema(detail):
        fix = (f"choose a model that supports structured output ([engines.{engine}] model, "
               "or --model)")
        raise EngineRefused(schema_refusal(engine, detail, fix), transcript=transcript)


def _explained(exc: EngineTimeout) -> EngineTimeout:
    """A timeout with Codex's last complaint, which often says why (`waiting for network`)."""
    said = parse_events(exc.transcript).error
    if not said:
        return exc
    return EngineTimeout(f"{exc} (Codex last said: {said})", transcript=exc.transcript)


def _json_object(line: str) -> dict[str, Any]:
    # Codex may print a non-JSON line (a warning) among the events; those are not events.
    if not line.startswith("{") or too_deep(line):  # the parser would recurse and crash
        return {}
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    return Usage(
        input_tokens=_int(raw.get("input_tokens")),
        cached_input_tokens=_int(raw.get("cached_input_tokens")),
        output_tokens=_int(raw.get("output_tokens")),
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _failure_text(event: dict[str, Any]) -> str:
    error = event.get("error")
    if isinstance(error, dict) and error.get("message"):
        return _unwrap(str(error["message"]))
    return _unwrap(str(event.get("message") or event.get("type")))


def _unwrap(message: str) -> str:
    """Codex passes a provider's HTTP error body on verbatim; keep just its message."""
    if too_deep(message):
        return message
    try:
        body = json.loads(message)
    except json.JSONDecodeError:
        return message
    error = body.get("error") if isinstance(body, dict) else None
    said = error.get("message") if isinstance(error, dict) else None
    return said if isinstance(said, str) and said else message


def provider_keys() -> tuple[str, ...]:
    """`model_providers.*.env_key` of `$CODEX_HOME/config.toml` (default ~/.codex); none when
    the file is missing or unreadable (Codex then says what is wrong)."""
    home = os.environ.get("CODEX_HOME") or os.path.join(os.path.expanduser("~"), ".codex")
    try:
        with open(os.path.join(home, "config.toml"), "rb") as file:
            config = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError):
        return ()
    providers = config.get("model_providers")
    if not isinstance(providers, dict):
        return ()
    keys = (p.get("env_key") for p in providers.values() if isinstance(p, dict))
    return tuple(k for k in keys if isinstance(k, str) and k)
