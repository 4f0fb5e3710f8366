"""`dflow serve` (HTTP API and web console) and `dflow mcp` (MCP server on stdio).

FastAPI, uvicorn and the MCP SDK are imported only inside these commands, so no other
command's start-up pays for them (decision 1580)."""

from __future__ import annotations

from pathlib import Path

import typer

from ...wiring import open_project


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; anything "
                             "beyond loopback needs DFLOW_SERVE_TOKEN set."),
    port: int = typer.Option(8765, "--port", min=0, max=65535, help="Port (0: any free one)."),
    all_projects: bool = typer.Option(False, "--all-projects", help="Also serve every "
                                      "registered project, chosen with ?project=NAME."),
) -> None:
    """Serve the HTTP API and the web console for this project until interrupted.

    Every path but /api/health needs the token printed with the URL. Actions request jobs:
    a `dflow worker` does them.

    Example: dflow serve --port 8765
    """
    from ...web import access, ops, server  # why: start-up

    access.check_host(host)  # before anything else: refuse at once, changing nothing
    root = open_project().root  # errors (no repo, not initialized) print like every command's
    server.serve(ops.Face(Path(root), all_projects), host, port,
                 lambda line: typer.echo(line, err=True))


def mcp() -> None:
    """Serve dflow's tools over the Model Context Protocol on stdio (for Codex, Claude Code).

    Register it with `codex mcp add dflow -- dflow -C PROJECT mcp` or
    `claude mcp add dflow -- dflow -C PROJECT mcp`; docs/web.md says more.

    Example: dflow mcp
    """
    from ...mcp import server  # why: start-up

    root = open_project().root
    server.run(Path(root))


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(mcp)
