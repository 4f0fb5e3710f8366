"""`dflow mcp` driven over stdio by the MCP SDK's own client, as Codex or Claude Code would."""

from __future__ import annotations

import json
import os

import anyio
import pytest

from deksdenflow.context.project import Project
from deksdenflow.workflow.lifecycle import runs

from .conftest import DFLOW, dflow

TOOLS = {"list_runs", "list_projects", "show_run", "show_diff", "create_run", "run_action",
         "step_action", "land_run"}


def test_dflow_mcp_answers_initialize_lists_its_tools_and_drives_runs(project: Project) -> None:
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    runs.create_run(project, "hello", "say hello", plan=False)
    params = StdioServerParameters(command=DFLOW, args=["mcp"], cwd=str(project.root),
                                   env=dict(os.environ))
    seen: dict[str, object] = {}

    async def session() -> None:
        with anyio.fail_after(40):
            await talk()

    async def talk() -> None:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
            init = await s.initialize()
            seen["server"] = init.server_info.name
            seen["tools"] = {t.name for t in (await s.list_tools()).tools}
            listed = await s.call_tool("list_runs", {})
            seen["runs"] = [r["id"] for r in json.loads(listed.content[0].text)["runs"]]
            paused = await s.call_tool("run_action", {"run": "1", "action": "pause"})
            seen["paused"] = json.loads(paused.content[0].text)["run"]["paused"]
            created = await s.call_tool("create_run", {"name": "from mcp", "task": "t",
                                                       "plan": False})
            seen["created"] = json.loads(created.content[0].text)["id"]
            missing = await s.call_tool("show_run", {"run": "0042"})
            seen["refusal"] = (missing.is_error, missing.content[0].text)

    anyio.run(session)

    assert seen["server"] == "dflow"
    assert seen["tools"] == TOOLS  # no trust, no config (decision 1582)
    assert seen["runs"] == ["0001-hello"]
    assert seen["paused"] is True and seen["created"] == "0002-from-mcp"
    is_error, text = seen["refusal"]  # type: ignore[misc]
    assert is_error and "no protocol run '0042'" in text
    status = json.loads(dflow(project.root, "status", "--json").stdout)
    assert [(r["id"], r["paused"]) for r in status["runs"]] == [("0001-hello", True),
                                                               ("0002-from-mcp", False)]


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_every_tool_has_a_description(name: str, project: Project) -> None:
    from deksdenflow.mcp.server import tools
    from deksdenflow.web.ops import Face

    assert (tools(Face(project.root))[name].__doc__ or "").strip()
