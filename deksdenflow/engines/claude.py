"""The `claude` engine: Anthropic's Claude Code, run as `claude -p --output-format stream-json`.

dflow maps the request's sandbox onto Claude Code's permission mode and tool lists, and turns
on its native OS sandbox for the agent's commands with a settings file of its own
(claude_sandbox.py); docs/engines.md has the table and its limits.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from ..domain.agents.engine import EngineCheck
from ..domain.agents.nesting import too_deep
from ..domain.runs.models import Usage
from ..errors import EngineFailed, EngineOutputInvalid, EngineRefused
from . import claude_sandbox
from .base import ConfiguredEngine, EngineRequest, EngineResult, Sandbox
from .output import validate_output
from .process import Completed, exit_message, run_process
from .refusals import unknown_flag

# Only the user's own settings are read: the repository's `.claude/settings*.json` and
# `.mcp.json` are its content (and the agent's to edit), and would run hooks and MCP servers
# outside any sandbox (decision 1560).
SETTING_SOURCES = "user"
# A Bash result of 2.1.337 when the sandbox cannot start a command (e.g. its sockets).
SANDBOX_BROKE = "Sandbox is required but failed to initialize"

READ_TOOLS = ("Read", "Glob", "Grep", "LS")
WRITE_TOOLS = ("Edit", "MultiEdit", "Write", "NotebookEdit")

# sandbox -> (permission mode, allowed tools, disallowed tools). In print mode Claude Code
# cannot ask, so a tool outside the allowed list is refused; the disallowed list makes the
# refusal explicit even when a user's settings allow more. The edit tools are never allowed
# by name: `Write` in the list allows it on any path (the real CLI wrote outside the
# worktree); `acceptEdits` alone accepts edits inside the working directory only. Bash runs
# in Claude Code's sandbox (claude_sandbox.py).
PERMISSIONS: dict[Sandbox, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "read-only": ("default", READ_TOOLS, (*WRITE_TOOLS, "Bash", "WebFetch", "WebSearch")),
    "workspace-write": ("acceptEdits", (*READ_TOOLS, "Bash"), ()),
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
        native = self.native_sandbox(options)
        with tempfile.TemporaryDirectory(prefix="dflow-claude-") as tmp:
            # Outside the worktree, and outside what the sandbox lets commands write: only
            # `scratch` (Claude Code's temp dir, CLAUDE_CODE_TMPDIR) is theirs.
            settings, scratch = Path(tmp) / "settings.json", Path(tmp) / "tmp"
            scratch.mkdir(mode=0o700)
            if native:
                wanted = claude_sandbox.settings(request.cwd, self.hosts(options))
                wanted["sandbox"]["filesystem"]["denyWrite"].append(str(settings))
                settings.write_text(json.dumps(wanted), encoding="utf-8")
            # Claude Code's own temp dir too (not the worktree's .dflow-tmp): its sandbox puts
            # Unix sockets there, whose paths may not pass 108 bytes.
            env = {**self.agent_env(request, options), "CLAUDE_CODE_TMPDIR": str(scratch),
                   "TMPDIR": str(scratch), "TMP": str(scratch), "TEMP": str(scratch)}
            done = run_process(
                self.argv(request, options, settings if native else None),
                engine=self.name,
                cwd=request.cwd,
                timeout_s=request.timeout_s,
                stdin=self.prompt(request),
                env=env,
                check=False,
            )
        return self.result(request, done, native)

    def native_sandbox(self, options: dict[str, Any]) -> bool:
        """Claude Code's OS sandbox for the agent's commands: on unless the project turned it
        off explicitly (`options.native_sandbox = false`)."""
        return self.bool_option(options, "native_sandbox", True)

    def hosts(self, options: dict[str, Any]) -> list[str]:
        """The hosts the agent's commands may reach (none unless the project lists them)."""
        return self.args_option(options, "allowed_hosts")

    def checks(self) -> list[EngineCheck]:
        """`dflow doctor`: can Claude Code's sandbox start on this machine?"""
        return claude_sandbox.checks(self.name, self.native_sandbox(dict(self.config.options)))

    def prompt(self, request: EngineRequest) -> str:
        if request.output_schema is None:
            return request.prompt
        schema = json.dumps(request.output_schema, indent=2)
        return request.prompt + SCHEMA_INSTRUCTIONS.format(schema=schema)

    def argv(self, request: EngineRequest, options: dict[str, Any],
             settings: Path | None = None) -> list[str]:
        # stream-json (which needs --verbose with -p): its first line says whether the
        # sandbox really started; its last is the same result object `json` prints.
        argv = [str(options.get("binary") or "claude"), "-p", "--output-format", "stream-json",
                "--verbose", "--setting-sources", SETTING_SOURCES]
        if settings is not None:
            argv += ["--settings", str(settings)]
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

    def result(self, request: EngineRequest, done: Completed, native: bool = False
               ) -> EngineResult:
        transcript = done.transcript()
        reply = _reply(done.stdout)
        said = claude_sandbox.unavailable(done.stderr)
        if said:
            raise EngineRefused(
                f"engine '{self.name}' cannot start Claude Code's sandbox here ({said}); "
                f"`dflow doctor` says what to install, or set [engines.{self.name}] "
                "options.native_sandbox = false to run without it", transcript=transcript)
        if done.returncode != 0 or reply.get("is_error") or reply.get("subtype") != "success":
            if unknown_flag(done.stderr, "--json-schema"):
                raise EngineRefused(
                    f"engine '{self.name}' is a Claude Code that does not know --json-schema; "
                    f"upgrade it, or set [engines.{self.name}] options.native_schema = false",
                    transcript=transcript)
            raise EngineFailed(
                exit_message(self.name, done, _error_text(reply)), transcript=transcript
            )
        broke = _sandbox_broke(done.stdout)
        if broke:  # the agent was told its commands cannot run, and may "finish" without them
            raise EngineFailed(
                f"engine '{self.name}': Claude Code's sandbox failed while the agent worked "
                f"({broke}); `dflow doctor` checks this machine", transcript=transcript)
        sandboxed = _sandboxed(done.stdout)
        if native and sandboxed is not True:
            raise EngineRefused(
                f"engine '{self.name}' ran without Claude Code's sandbox although dflow turned it "
                "on (its init message does not say sandbox_enabled: true); use Claude Code "
                f"2.1.337 or newer, or set [engines.{self.name}] options.native_sandbox = false "
                "to run without it", transcript=transcript)
        output = _output_text(reply)
        if output is None:
            raise EngineOutputInvalid(
                f"engine '{self.name}' printed no `result` in its output; check that the `claude` "
                "on PATH is Claude Code and supports --output-format stream-json",
                transcript=transcript,
            )
        return EngineResult(
            output=validate_output(output, request.output_schema, self.name, transcript=transcript),
            usage=_usage(reply.get("usage")),
            cost=_cost(reply.get("total_cost_usd")),
            exit_status=done.returncode,
            transcript=transcript,
            model=self.model(request) or _model_used(reply),
            sandboxed=sandboxed,
        )


def _reply(stdout: str) -> dict[str, Any]:
    """The result object: the whole stdout, or its last JSON line (some versions log first)."""
    for text in (stdout, *reversed(stdout.strip().splitlines())):
        if too_deep(text):  # the parser would recurse into it and crash
            continue
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


def _sandbox_broke(stdout: str) -> str:
    """Claude Code's words when its sandbox failed to start a command mid-run, or ""."""
    for message in _messages(stdout):
        body = message.get("message") if message.get("type") == "user" else None
        content = body.get("content") if isinstance(body, dict) else None
        for block in content if isinstance(content, list) else []:
            said = block.get("content") if isinstance(block, dict) else None
            text = said if isinstance(said, str) else json.dumps(said)
            if block.get("type") == "tool_result" and SANDBOX_BROKE in text:
                return text.strip().splitlines()[0][:300]
    return ""


def _messages(stdout: str) -> list[dict[str, Any]]:
    """The stream's JSON objects, one a line (other lines ignored)."""
    found = []
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def _sandboxed(stdout: str) -> bool | None:
    """What the stream's `system/init` message says of the sandbox (None: it says nothing)."""
    for message in _messages(stdout):
        if message.get("type") == "system" and message.get("subtype") == "init":
            enabled = message.get("sandbox_enabled")
            return enabled if isinstance(enabled, bool) else None
    return None


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
