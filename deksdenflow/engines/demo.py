"""The demo engine: deterministic, offline, no AI. It plans three steps that really change
files (a module, its test, a README section) and reviews by really running checks.

It reads what it needs from the prompt (`Protocol:`, `Parallel steps:` and `Step file:`
lines, which the shipped templates carry), just as an agent would; with parallel steps it
plans a diamond (01 → 02 and 03 → 04). Options for tests and demos (`[engines.demo.options]`):
`bug = true` writes a wrong module until the prompt carries QA findings; `plan_reply` /
`qa_reply` replace the final message verbatim, to play a misbehaving agent; `delay_s` makes
each call take that long, to play a slow agent.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from typing import Any

from ..domain.config.settings import EngineConfig
from ..domain.runs.models import Usage
from ..errors import EngineError
from . import demo_files
from .base import EngineRequest, EngineResult
from .output import check_schema

PROTOCOL_LINE = re.compile(r"^Protocol: (\d{4}-[a-z0-9-]+)\s*$", re.M)
STEP_FILE_LINE = re.compile(r"^Step file: (\S+)\s*$", re.M)
DIRECTIVE = re.compile(r"<!-- dflow-demo: (module|test|readme|notes|line) (\S+) -->")
PARALLEL_LINE = "Parallel steps: yes."
RESOLVE_LINE = re.compile(r"^Resolve: (.+)$", re.M)
FINDINGS_MARK = "## Findings from the last QA"


class DemoEngine:
    """Engine kind `demo`."""

    def __init__(self, name: str, config: EngineConfig, **extra: Any) -> None:
        self.name = name
        self.config = config
        self.options = dict(config.options)

    def run(self, request: EngineRequest) -> EngineResult:
        started = time.monotonic()
        time.sleep(float(self.options.get("delay_s", 0)))
        if request.phase == "plan":
            output = self._plan(request)
        elif request.phase == "execute":
            output = self._execute(request)
        else:
            output = self._review(request)
        if request.output_schema is not None and not self._overridden(request):
            _check_schema(output, request.output_schema, self.name)
        words = len(request.prompt.split())
        return EngineResult(
            output=output,
            usage=Usage(input_tokens=words, output_tokens=len(output.split())),
            cost=None,
            exit_status=0,
            transcript=f"[demo] {request.phase} in {request.cwd} "
            f"({time.monotonic() - started:.3f}s)\n--- prompt ---\n{request.prompt}\n"
            f"--- output ---\n{output}\n",
            model="demo",
        )

    def _overridden(self, request: EngineRequest) -> bool:
        return f"{request.phase}_reply" in self.options

    # --- phases ---------------------------------------------------------------------------

    def _plan(self, request: EngineRequest) -> str:
        if "plan_reply" in self.options:
            return str(self.options["plan_reply"])
        protocol = _match(PROTOCOL_LINE, request.prompt, "a 'Protocol: NNNN-name' line")
        parallel = PARALLEL_LINE in request.prompt
        return json.dumps(demo_files.plan(protocol, parallel), indent=2)

    def _execute(self, request: EngineRequest) -> str:
        resolve = RESOLVE_LINE.search(request.prompt)
        if resolve is not None:  # a conflict to resolve: keep both sides
            return demo_files.resolve(request.cwd, resolve.group(1).split(", "))
        protocol, action, target = self._directive(request)
        fixed = FINDINGS_MARK in request.prompt or not self.options.get("bug", False)
        step = _match(STEP_FILE_LINE, request.prompt, "a 'Step file: PATH' line")
        return demo_files.apply(request.cwd, protocol, action, target, buggy=not fixed,
                                step=step.rsplit("/", 1)[-1])

    def _review(self, request: EngineRequest) -> str:
        if "qa_reply" in self.options:
            return str(self.options["qa_reply"])
        shown, command = demo_files.check_command(*self._directive(request))
        try:
            done = subprocess.run(
                command, cwd=request.cwd, capture_output=True, text=True, timeout=request.timeout_s
            )
        except subprocess.TimeoutExpired as exc:
            raise EngineError(
                f"demo engine: the check `{shown}` timed out after {request.timeout_s:g}s"
            ) from exc
        if done.returncode == 0:
            verdict = {"verdict": "PASS", "summary": f"ran `{shown}`: passed", "findings": []}
        else:
            lines = (done.stdout + done.stderr).strip().splitlines()[-12:]
            verdict = {
                "verdict": "FAIL",
                "findings": lines or ["no output"],
                "summary": f"ran `{shown}`: exit {done.returncode}",
            }
        return json.dumps(verdict)

    def _directive(self, request: EngineRequest) -> tuple[str, str, str]:
        protocol = _match(PROTOCOL_LINE, request.prompt, "a 'Protocol: NNNN-name' line")
        step_file = _match(STEP_FILE_LINE, request.prompt, "a 'Step file: PATH' line")
        path = request.cwd / step_file
        if not path.is_file():
            raise EngineError(f"demo engine: step file {step_file} is not in {request.cwd}")
        found = DIRECTIVE.search(path.read_text(encoding="utf-8"))
        if found is None:
            raise EngineError(f"demo engine: {step_file} was not planned by the demo engine")
        return protocol, found.group(1), found.group(2)


def _match(pattern: re.Pattern[str], prompt: str, what: str) -> str:
    found = pattern.search(prompt)
    if found is None:
        raise EngineError(f"demo engine: the prompt has no {what}; is the template overridden?")
    return found.group(1)


def _check_schema(output: str, schema: dict[str, Any], name: str) -> None:
    """The demo holds itself to the schema like every engine (a bug here is dflow's)."""
    check_schema(json.loads(output), schema, name)
