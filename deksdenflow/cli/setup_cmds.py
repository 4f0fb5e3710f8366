"""`dflow init` and `dflow doctor`."""

from __future__ import annotations

from typing import Optional

import typer

from ..store import STATE_REF
from ..workflow import doctor as doctor_service
from ..workflow.project import init_project
from .render import JSON_OPTION, emit_json


def init(
    base: Optional[str] = typer.Option(None, "--base", help="Base branch (default: current)."),  # noqa: UP045
    engine: Optional[str] = typer.Option(None, "--engine", help="Default engine for every phase."),  # noqa: UP045
) -> None:
    """Set up dflow in this repository (creates the state ref; safe to run again).

    Example: dflow init --base main --engine demo
    """
    project, created = init_project(".", base=base, engine=engine)
    tip = project.store.tip()
    if created:
        typer.echo(f"initialized {STATE_REF} at {str(tip)[:12]}")
    else:
        typer.echo(f"already initialized: {STATE_REF} at {str(tip)[:12]}")


def doctor(json_: bool = JSON_OPTION) -> None:
    """Check git, pygit2, the state ref, the lock and optional tools.

    Example: dflow doctor --json
    """
    report = doctor_service.run_checks(".")
    if json_:
        emit_json({"ok": report.ok, **report.model_dump(mode="json")})
    else:
        marks = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}
        for c in report.checks:
            typer.echo(f"{marks[c.level]}  {c.name:<11} {c.detail}")
            if c.fix and c.level != "ok":
                typer.echo(f"      {'':<11} -> {c.fix}")
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(doctor)
