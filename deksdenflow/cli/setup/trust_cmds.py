"""`dflow trust`: review the settings that came from origin, and let them take effect here."""

from __future__ import annotations

import sys

import typer

from ...context.project import Project
from ...errors import NotTrusted
from ...sync import trust as service
from ...wiring import open_project
from ..render import JSON_OPTION, emit_json, safe_text
from ..text import is_plain


def trust(
    yes: bool = typer.Option(False, "--yes", "-y",
                             help="Trust what is shown without asking (scripts, CI)."),
    json_: bool = JSON_OPTION,
) -> None:
    """Show the settings from origin that changed since they were trusted here, and trust them.

    Settings that decide what runs, where, with which secrets or who reviews (engines and
    their command lines, phases, the QA policy, alert commands, CI install steps, secrets,
    hooks, where worktrees live) take effect on this machine only once a person here trusted
    them; until then the jobs that would use them wait. The record stays on this machine.
    With --json and no --yes it only shows. Nothing pending: exit 0.

    Example: dflow trust --yes
    """
    project = open_project()
    report = service.pending(project)
    if json_:
        emit_json(service.accept(project, report) if yes and report.changes else report)
        return
    if not report.changes:
        typer.echo(f"nothing to trust: the settings at {report.commit[:12] or 'the start'} are "
                   "the ones trusted here")
        return
    decide(project, report, yes)


def decide(project: Project, report: service.TrustReport, yes: bool) -> None:
    """List the changes, then trust them on --yes or a person's answer (`dflow init` too)."""
    typer.echo(f"settings on the state ref (at {report.commit[:12]}) not trusted here yet:")
    for line in lines(report):
        typer.echo(line)
    if not yes:
        if not _is_terminal():
            raise NotTrusted("nothing trusted: review the changes above and run "
                             "`dflow trust --yes` to let them take effect here")
        if not typer.confirm("Trust these settings on this machine?", default=False):
            raise NotTrusted("nothing trusted: the jobs that use these settings keep waiting "
                             "here; `dflow trust` asks again")
    service.accept(project, report)
    count = len(report.changes)
    typer.echo(f"trusted {count} setting{'s' if count != 1 else ''} at "
               f"{report.commit[:12]}: they take effect here now")


def lines(report: service.TrustReport) -> list[str]:
    """`  KEY: OLD -> NEW  (by WHO in COMMIT)` for each change."""
    out = []
    for change in report.changes:
        who = (f"  (by {change.author} in {change.commit[:12]})" if change.author
               else "  (author unknown)")
        out.append(safe_text(f"  {change.key}: {change.old} -> {change.new}{who}"))
    return out


def _is_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty() and not is_plain()


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(trust)
