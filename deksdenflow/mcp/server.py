"""`dflow mcp`: an MCP server on stdio whose tools are the HTTP API's operations (web/ops.py),
so Codex, Claude Code or an editor drive dflow with the same service calls as the CLI, and
read the same JSON as `--json` prints. A refusal is a tool error carrying dflow's sentence.

Like the HTTP API it changes no settings and no trust (decision 1582), and it is never
handed to the agents dflow runs: it is for the person's own agent, registered by that person.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from .. import __version__
from ..context.project import Project
from ..errors import DflowError
from ..web import ops

INSTRUCTIONS = (
    "dflow runs AI coding agents through protocols (plan, steps, QA, land) with all state on "
    "a git ref. Runs are named by id (0001-add-login), number or name. Actions request jobs; "
    "a `dflow worker` does them, so read the run again to see progress.")


def _json(found: BaseModel | list[BaseModel]) -> str:
    if isinstance(found, list):
        return json.dumps([f.model_dump(mode="json") for f in found], indent=2,
                          ensure_ascii=False)
    return found.model_dump_json(indent=2)


def tools(face: ops.Face) -> dict[str, Callable[..., str]]:
    """The tools by name (plain functions, so a test can call them without a transport)."""

    def answer(call: Callable[[Project], BaseModel | list[Any]]) -> str:
        project: Project | None = None
        try:
            project = face.project()
            return _json(call(project))
        except DflowError as exc:
            from mcp.server.mcpserver.exceptions import ToolError  # why: start-up

            raise ToolError(ops.error_text(exc, project)) from None

    def list_runs() -> str:
        """Every protocol run with its status, waiting reason, steps and cost (as `dflow
        status --json`)."""
        return answer(ops.list_runs)

    def list_projects() -> str:
        """The registered projects with their run counts (as `dflow projects --json`)."""
        return answer(lambda _: ops.projects())

    def show_run(run: str) -> str:
        """One run in full: plan, steps with QA verdicts and findings, facts, recent events
        (as `dflow show RUN --json`)."""
        return answer(lambda p: ops.show_run(p, run))

    def show_diff(run: str, step: int | None = None, stat: bool = False) -> str:
        """What a run (or one step) changed: files with line counts and the patch (as `dflow
        diff RUN [STEP] --json`)."""
        return answer(lambda p: ops.diff(p, run, step, stat))

    def create_run(name: str, task: str, engine: str | None = None,
                   plan: bool = True) -> str:
        """Start a run: branch and worktree NNNN-name from the base, then a plan job (as
        `dflow new NAME --task TASK`)."""
        return answer(lambda p: ops.create(p, ops.NewRun(name=name, task=task, engine=engine,
                                                        plan=plan)))

    def run_action(run: str, action: Literal["plan", "run", "pause", "resume", "cancel"],
                   engine: str | None = None, model: str | None = None) -> str:
        """Request the plan, request the next step, pause, resume or cancel a run (as `dflow
        plan|run|pause|resume|cancel RUN`)."""
        return answer(lambda p: ops.act(p, run, action, ops.Options(engine=engine,
                                                                    model=model)))

    def step_action(run: str, step: int, action: Literal["qa", "approve", "retry"],
                    engine: str | None = None, model: str | None = None) -> str:
        """Request QA of a step, approve it whatever QA said, or run it again (as `dflow qa
        RUN STEP`, `dflow step approve|retry RUN STEP`)."""
        return answer(lambda p: ops.act_on_step(p, run, step, action,
                                                ops.Options(engine=engine, model=model)))

    def land_run(run: str, strategy: Literal["merge", "squash", "rebase"] = "merge") -> str:
        """Land a run whose steps all passed on its base branch (as `dflow land RUN`)."""
        return answer(lambda p: ops.act(p, run, "land", ops.Options(strategy=strategy)))

    found: list[Callable[..., str]] = [list_runs, list_projects, show_run, show_diff,
                                       create_run, run_action, step_action, land_run]
    return {f.__name__: f for f in found}


def build(root: Path) -> Any:
    from mcp.server.mcpserver import MCPServer  # why: start-up


    server = MCPServer("dflow", instructions=INSTRUCTIONS, version=__version__,
                       log_level="WARNING")
    for name, fn in tools(ops.Face(root)).items():
        server.tool(name=name, structured_output=False)(fn)
    return server


def run(root: Path) -> None:
    """Serve on stdio until the client closes it."""
    build(root).run("stdio")
