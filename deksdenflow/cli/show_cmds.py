"""`dflow show`: one run in full, without loading the job machinery that controls need."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from ..wiring import open_project
from ..workflow import detail
from .facts_render import render_facts
from .render import JSON_OPTION, console, emit_json, styled, tokens
from .runs_cmds import waiting_line
from .text import event_detail


def show(run: str = typer.Argument(..., help="A run id, number or name."),
         json_: bool = JSON_OPTION) -> None:
    """Show a run: its plan, its steps with their figures, and its recent events.

    Example: dflow show 0001-add-login --json
    """
    found = detail.show(open_project(), run)
    if json_:
        emit_json(found)
        return
    render_detail(found)


def render_detail(found: detail.RunDetail) -> None:
    out = console()
    line = found.run
    out.print(f"{line.id}  {styled(line.status)}{'  (paused)' if line.paused else ''}  "
              f"branch {line.branch}  engine {line.engine or 'project default'}")
    if line.waiting is not None:
        out.print(waiting_line(line.waiting), markup=False)
    out.print(f"task: {line.task}")
    for key, why in line.blocks.items():
        out.print(f"blocked by {key}: {why}", markup=False)
    out.print(f"\n--- {found.plan_path} ---" if found.plan else "\nno plan yet")
    if found.plan:
        out.print(found.plan.rstrip(), markup=False)
    headers = ("step", "title", "status", "tries", "tokens", "cost", "time", "engine",
               "commit", "qa")
    rows = [
        (f"{s.index:02d}", s.title, s.status.value, str(s.attempts), tokens(s.usage.total),
         "-" if s.cost is None else f"${s.cost:.4f}", f"{s.duration_s:.1f}s",
         f"{s.engine or '-'}", (s.commit or "-")[:9], s.qa.verdict if s.qa else "-")
        for s in found.steps
    ]
    table = Table(box=None, padding=(0, 1, 0, 0), pad_edge=False)
    widths = [max([len(name), *(len(r[i]) for r in rows)]) for i, name in enumerate(headers)]
    # The title gives way on a narrow terminal; the figures keep their full width.
    room = out.width - (sum(widths) - widths[1]) - len(headers)
    for i, name in enumerate(headers):
        width = max(10, min(widths[1], room)) if name == "title" else widths[i]
        table.add_column(name, no_wrap=True, overflow="ellipsis", width=width)
    for row in rows:
        table.add_row(*row[:2], styled(row[2]), *row[3:])
    if found.steps:
        out.print()
        out.print(table)
    for s in found.steps:
        if s.qa and s.qa.verdict == "FAIL":
            out.print(f"step {s.index:02d} QA findings: " + "; ".join(s.qa.findings),
                      markup=False)
    render_graph(out, found)
    render_facts(out, found)
    out.print("\nrecent events:")
    for e in found.events:
        where = f"/{e.step:02d}" if e.step is not None else ""
        detail = event_detail(e.data.model_dump(mode="json"))
        out.print(f"  {e.at:%H:%M:%S} {e.type.value}{where} {e.actor}"
                  f"{'  ' + detail if detail else ''}", markup=False)


def render_graph(out: Console, found: detail.RunDetail) -> None:
    """The step graph of a parallel run, and the conflicts seen coming."""
    if found.graph:
        out.print("\nstep graph (← what a step waits for):")
        for line in found.graph:
            out.print(f"  {line}", markup=False)
    for risk in found.conflicts:
        a, b = (f"{i:02d}" for i in risk.steps)
        verdict = ("git merge-tree: they conflict" if risk.conflict
                   else "git merge-tree: they merge cleanly so far")
        out.print(f"conflict ahead? steps {a} and {b} both change {', '.join(risk.files[:5])}"
                  f" ({verdict})", markup=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(show)
