"""`dflow metrics` and `dflow report`: figures from the state ref, for machines and people."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from ...context.project import Project
from ...errors import UsageError
from ...wiring import open_project
from ..render import JSON_OPTION, console, emit_json

if TYPE_CHECKING:
    from ...observe.ledger import Ledger


def _ledger(project: Project) -> Ledger:
    from ...observe.ledger import ledger, project_label  # why: start-up

    view = project.view()
    name = project_label(view.settings().project.name, project.root.name)
    return ledger(name, view.snapshot_docs())


def _address(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"--serve wants HOST:PORT (for example 127.0.0.1:9464), not '{addr}'")
    return host or "127.0.0.1", int(port)


def metrics(
    textfile: Optional[Path] = typer.Option(  # noqa: UP045, B008
        None, "--textfile", help="Write the figures to this file atomically (node_exporter's "
        "textfile collector) instead of printing them."),
    serve: Optional[str] = typer.Option(  # noqa: UP045
        None, "--serve", help="Serve /metrics on HOST:PORT until interrupted; every scrape "
        "reads the state ref afresh."),
) -> None:
    """Print the project's figures in the Prometheus text format, from the state ref alone.

    Jobs by kind and status, step and run durations, tokens and cost by engine, model,
    variant and step type, QA verdicts, attempts and errors. No run ids as labels.

    Example: dflow metrics --textfile /var/lib/node_exporter/textfile/dflow.prom
    """
    from ...observe import metrics as exposition  # why: start-up

    project = open_project()
    if serve is not None:
        host, port = _address(serve)
        server, _ = exposition.serve(lambda: _ledger(project), host, port)
        typer.echo(f"serving http://{host}:{port}/metrics (Ctrl-C stops)", err=True)
        try:
            while True:
                time.sleep(3600)
        finally:
            server.shutdown()
    book = _ledger(project)
    if textfile is not None:
        exposition.write_textfile(book, textfile)
        return
    typer.echo(exposition.exposition(book).decode(), nl=False)


def report(
    since: Optional[str] = typer.Option(  # noqa: UP045
        None, "--since", help="Only what happened since: today, yesterday, 30d, 12h, 2w, "
        "'3 days ago' or a date like 2026-11-01."),
    by: str = typer.Option("model", "--by", help="Group by engine, model, variant or step-type."),
    json_: bool = JSON_OPTION,
) -> None:
    """Tokens, cost, durations, QA pass rate and errors, as tables and terminal charts.

    Example: dflow report --since yesterday --by engine
    """
    from ...domain.since import parse_since  # why: start-up
    from ...observe import report as reporting  # why: start-up
    from .report_render import render  # why: start-up

    found = reporting.for_project(open_project(), by, parse_since(since))
    if json_:
        emit_json(found)
        return
    render(console(), found)


def register(app: typer.Typer) -> None:
    app.command()(metrics)
    app.command()(report)
