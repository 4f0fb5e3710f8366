"""The `command` engine: any command line, from a template in `[engines.NAME] options.command`.

Placeholders `{prompt_file}`, `{output_file}`, `{schema_file}`, `{cwd}`, `{model}`, `{sandbox}`
and `{phase}` are replaced by shell-quoted values, then the line is split like a shell would
(shlex) and run without a shell, so a path with spaces or quotes stays one argument.
"""

from __future__ import annotations

import json
import shlex
import string
import tempfile
from pathlib import Path
from typing import Any

from ..errors import ConfigError, EngineOutputInvalid
from .base import ConfiguredEngine, EngineRequest, EngineResult
from .output import validate_output
from .process import Completed, run_process
from .streams import read_capped

PLACEHOLDERS = ("prompt_file", "output_file", "schema_file", "cwd", "model", "sandbox", "phase")


class CommandEngine(ConfiguredEngine):
    """Runs the template; output is the output file when the template names one, else stdout."""

    kind = "command"

    def run(self, request: EngineRequest) -> EngineResult:
        options = self.options(request)
        template = self.template(options)
        used = placeholders(template, self.name)
        with tempfile.TemporaryDirectory(prefix="dflow-command-") as tmp:
            files = self.write_inputs(Path(tmp), request)
            argv = render(template, self.values(request, files))
            done = run_process(
                argv,
                engine=self.name,
                cwd=request.cwd,
                timeout_s=request.timeout_s,
                # The prompt goes on stdin unless the command reads it from its file.
                stdin=None if "prompt_file" in used else request.prompt,
                env=self.agent_env(request, options),
            )
            output = self.read_output(files["output_file"], done, "output_file" in used)
        transcript = done.transcript()
        return EngineResult(
            output=validate_output(output, request.output_schema, self.name, transcript=transcript),
            exit_status=done.returncode,
            transcript=transcript,
            model=self.model(request),
        )

    def cannot_run(self) -> str | None:
        try:
            placeholders(self.template(self.config.options), self.name)
        except ConfigError as exc:
            return str(exc)
        return None

    def template(self, options: dict[str, Any]) -> str:
        command = options.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ConfigError(
                f"engine '{self.name}' has no command line; set [engines.{self.name}] "
                'options.command = "my-agent --prompt {prompt_file}" in project.toml'
            )
        return command

    def write_inputs(self, tmp: Path, request: EngineRequest) -> dict[str, Path]:
        files = {
            "prompt_file": tmp / "prompt.md",
            "output_file": tmp / "output.txt",
            "schema_file": tmp / "output-schema.json",
        }
        files["prompt_file"].write_text(request.prompt, encoding="utf-8")
        # Without a schema the file holds `{}`, the schema every answer satisfies.
        files["schema_file"].write_text(json.dumps(request.output_schema or {}), encoding="utf-8")
        return files

    def values(self, request: EngineRequest, files: dict[str, Path]) -> dict[str, str]:
        return {
            **{key: str(path) for key, path in files.items()},
            "cwd": str(request.cwd),
            "model": self.model(request),
            "sandbox": request.sandbox,
            "phase": request.phase,
        }

    def read_output(self, path: Path, done: Completed, from_file: bool) -> str:
        if not from_file:
            return done.stdout
        if not path.exists():
            raise EngineOutputInvalid(
                f"engine '{self.name}' exited 0 but did not write {{output_file}}; check its "
                "command line in project.toml",
                transcript=done.transcript(),
            )
        return read_capped(path)  # head and tail: an agent may write gigabytes there


def placeholders(template: str, engine: str) -> set[str]:
    """The placeholder names the template uses; ConfigError for an unknown one."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ConfigError(
            f"[engines.{engine}] options.command is not a valid template ({exc}); "
            "write a literal brace as {{ or }}"
        ) from None
    unknown = sorted(fields - set(PLACEHOLDERS))
    if unknown:
        raise ConfigError(
            f"[engines.{engine}] options.command uses unknown placeholder {{{unknown[0]}}}; "
            f"known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
        )
    return fields


def render(template: str, values: dict[str, str]) -> list[str]:
    """The argv: each value shell-quoted into the template, then split without a shell."""
    quoted = {key: shlex.quote(value) for key, value in values.items()}
    try:
        argv = shlex.split(template.format_map(quoted))
    except ValueError as exc:  # unbalanced quotes
        raise ConfigError(f"options.command cannot be split into arguments ({exc})") from None
    if not argv:
        raise ConfigError("options.command is empty; give it the command to run")
    return argv
