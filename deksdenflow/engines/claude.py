"""The `claude` engine: Anthropic's Claude Code, run as `claude -p --output-format json`.

Claude Code has no sandbox flag like Codex's; dflow maps the request's sandbox onto its
permission mode and tool lists (docs/engines.md has the table and its limits).
"""

from __future__ import annotations

import json
from typing import Any

from ..domain.models import Usage
from ..errors import EngineFailed, EngineOutputInvalid, EngineRefused
from .base import ConfiguredEngine, EngineRequest, EngineResult, Sandbox
from .output import validate_output
from .process import Completed, exit_message, run_process
from .refusals import unknown_flag

READ_TOOLS = ("Read", "Glob", "Grep", "LS")
WRITE_TOOLS = ("Edit", "MultiEdit", "Write", "NotebookEdit")

# sandbox -> (permission mode, allowed tools, disallowed tools). In print mode Claude Code
# cannot ask, so a tool outside the allowed list is refused; the disallowed list makes the
# refusal explicit even when a user's settings allow more.
PERMISSIONS: dict[Sandbox, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "read-only": ("default", READ_TOOLS, (*WRITE_TOOLS, "Bash", "WebFetch", "WebSearch")),
    "workspace-write": ("acceptEdits", (*READ_TOOLS, *WRITE_TOOLS, "Bash"), ()),
}

SCHEMA_INSTRUCTIONS = """

---
Answer with a single JSON value and nothing else (no prose, no code fence). It must satisfy
this JSON Schema:

{schema}
"""


class ClaudeEngine(ConfiguredEngine):
    """Prompt on stdin; the result text, usage and cost come from the JSON on stdout."""

    kind = "claude"
    own_env = ("ANTHROPIC_*", "CLAUDE_*", "DISABLE_TELEMETRY", "DISABLE_AUTOUPDATER",
               "DISABLE_ERROR_REPORTING", "DISABLE_NON_ESSENTIAL_MODEL_CALLS")

    def run(self, request: EngineRequest) -> EngineResult:
        options = self.options(request)
        done = run_process(
            self.argv(request, options),
            engine=self.name,
            cwd=request.cwd,
            timeout_s=request.timeout_s,
            stdin=self.prompt(request),
            env=self.agent_env(request, options),
            check=False,
        )
        return self.result(request, done)

    def prompt(self, request: EngineRequest) -> str:
        if request.output_schema is None:
            return request.prompt
        schema = json.dumps(request.output_schema, indent=2)
        return request.prompt + SCHEMA_INSTRUCTIONS.format(schema=schema)

    def argv(self, request: EngineRequest, options: dict[str, Any]) -> list[str]:
        argv = [str(options.get("binary") or "claude"), "-p", "--output-format", "json"]
        model = self.model(request)
        if model:
            argv += ["--model", model]
        mode, allowed, denied = PERMISSIONS[request.sandbox]
        argv += ["--permission-mode", mode, "--allowedTools", ",".join(allowed)]
        if denied:
            argv += ["--disallowedTools", ",".join(denied)]
        native = self.bool_option(options, "native_schema", False)
        if request.output_schema is not None and native:
            # Newer Claude Code versions constrain the answer themselves (`structured_output`).
            argv += ["--json-schema", json.dumps(request.output_schema)]
        return argv + self.args_option(options, "extra_args")

    def result(self, request: EngineRequest, done: Completed) -> EngineResult:
        transcript = done.transcript()
        reply = _reply(done.stdout)
        if done.returncode != 0 or reply.get("is_error") or reply.get("subtype") != "success":
            if unknown_flag(done.stderr, "--json-schema"):
                raise EngineRefused(
                    f"engine '{self.name}' is a Claude Code that does not know --json-schema; "
                    f"upgrade it, or set [engines.{self.name}] options.native_schema = false",
                    transcript=transcript)
            raise EngineFailed(
                exit_message(self.name, done, _error_text(reply)), transcript=transcript
            )
        output = _output_text(reply)
        if output is None:
            raise EngineOutputInvalid(
                f"engine '{self.name}' printed no `result` in its JSON; check that the `claude` "
                "on PATH is Claude Code and supports --output-format json",
                transcript=transcript,
            )
        return EngineResult(
            output=validate_output(output, request.output_schema, self.name, transcript=transcript),
            usage=_usage(reply.get("usage")),
            cost=_cost(reply.get("total_cost_usd")),
            exit_status=done.returncode,
            transcript=transcript,
            model=self.model(request) or _model_used(reply),
        )


def _reply(stdout: str) -> dict[str, Any]:
    """The result object: the whole stdout, or its last JSON line (some versions log first)."""
    for text in (stdout, *reversed(stdout.strip().splitlines())):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
        if isinstance(value, list):  # a list of messages: the result is the last of them
            results = [m for m in value if isinstance(m, dict) and m.get("type") == "result"]
            if results:
                return results[-1]
    return {}


def _output_text(reply: dict[str, Any]) -> str | None:
    structured = reply.get("structured_output")
    if structured is not None:
        return json.dumps(structured)
    result = reply.get("result")
    return result if isinstance(result, str) else None


def _error_text(reply: dict[str, Any]) -> str:
    if not reply:
        return ""
    errors = reply.get("errors")
    if isinstance(errors, list) and errors:
        return "; ".join(str(e) for e in errors)
    if reply.get("subtype") not in (None, "success"):
        return f"Claude Code stopped with {reply['subtype']}"
    result = reply.get("result")
    return str(result) if result else ""


def _usage(raw: Any) -> Usage:
    """Anthropic counts cache reads and writes apart from `input_tokens`; dflow adds them in,
    so that `input_tokens` means every prompt token, as it does for Codex."""
    if not isinstance(raw, dict):
        return Usage()
    counts = {k: v if isinstance(v, int) and v > 0 else 0 for k, v in raw.items()}
    cache_read = counts.get("cache_read_input_tokens", 0)
    cache_write = counts.get("cache_creation_input_tokens", 0)
    return Usage(
        input_tokens=counts.get("input_tokens", 0) + cache_read + cache_write,
        cached_input_tokens=cache_read,
        output_tokens=counts.get("output_tokens", 0),
    )


def _cost(raw: Any) -> float | None:
    return float(raw) if isinstance(raw, int | float) and raw >= 0 else None


def _model_used(reply: dict[str, Any]) -> str:
    models = reply.get("modelUsage")
    return ",".join(sorted(models)) if isinstance(models, dict) else ""
