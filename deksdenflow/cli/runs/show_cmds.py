"""`dflow show`: one run in full, without loading the job machinery that controls need."""

from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console

from ...wiring import open_project
from ...workflow.checkouts.worktrees import run_here
from ...workflow.lifecycle import detail
from ..render import JSON_OPTION, console, emit_json
from ..text import event_detail
from .runs_cmds import waiting_line
from .show_text import Shown, StepRow, render, review_line
from .show_text import render_graph as print_graph


def show(run: Optional[str] = typer.Argument(  # noqa: UP045
             None, help="A run id, number or name (default: the run whose worktree you are "
             "in)."),
         json_: bool = JSON_OPTION) -> None:
    """Show a run: its plan, its steps with their figures, and its recent events.

    Example: dflow show 0001-add-login --json
    """

    project = open_project()
    found = detail.show(project, run_here(project, run))
    if json_:
        emit_json(found)
        return
    render_detail(found)


def render_detail(found: detail.RunDetail) -> None:
    render(console(), shown(found))


def shown(found: detail.RunDetail) -> Shown:
    """What `dflow show` prints of the service's answer (show_text renders it)."""
    line, facts = found.run, found.facts
    ci = facts.ci
    return Shown(
        id=line.id, status=line.status, paused=line.paused, branch=line.branch,
        engine=line.engine, waiting=waiting_line(line.waiting) if line.waiting else "",
        task=line.task, blocks=list(line.blocks.items()), plan_path=found.plan_path,
        plan=found.plan,
        steps=[StepRow(s.index, s.title, s.status.value, s.attempts, s.usage.total, s.cost,
                       s.duration_s, s.engine, s.commit, s.qa.verdict if s.qa else None,
                       s.qa.findings if s.qa else []) for s in found.steps],
        graph=found.graph, conflicts=conflict_lines(found),
        ci=(ci.status, ci.commit, ci.url, ci.excerpt) if ci is not None else None,
        notes=[(n.at, n.level, n.text) for n in facts.notes],
        failures=[(f.at, f.kind, f.step, f.error) for f in facts.failures],
        attempts=[(a.step, a.kind, a.outcome, a.engine, a.model, a.sandboxed)
                  for a in facts.attempts],
        changes=[(c.step, c.files, c.added, c.deleted) for c in facts.changes],
        transcripts=[t.command for t in facts.transcripts],
        issue=found.issue_url,
        review=[review_line(c.reviewer, c.state, c.body, c.file, c.line)
                for c in found.review_comments],
        events=[(e.at, e.type.value, e.step, e.actor,
                 event_detail(e.data.model_dump(mode="json"))) for e in found.events],
        stage=line.stage,
    )


def conflict_lines(found: detail.RunDetail) -> list[str]:
    lines = []
    for risk in found.conflicts:
        a, b = (f"{i:02d}" for i in risk.steps)
        verdict = ("git merge-tree: they conflict" if risk.conflict
                   else "git merge-tree: they merge cleanly so far")
        lines.append(f"conflict ahead? steps {a} and {b} both change "
                     f"{', '.join(risk.files[:5])} ({verdict})")
    return lines


def render_graph(out: Console, found: detail.RunDetail) -> None:
    """The step graph of a parallel run, and the conflicts seen coming."""
    print_graph(out, found.graph, conflict_lines(found))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(show)
