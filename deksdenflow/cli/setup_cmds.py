"""`dflow init` and `dflow doctor`."""

from __future__ import annotations

from typing import Optional

import typer

from ..errors import DflowError, UsageError
from ..store import STATE_REF
from ..sync import setup as sync_setup
from ..workflow import doctor as doctor_service
from ..workflow.project import Project
from .render import JSON_OPTION, emit_json


def init(
    base: Optional[str] = typer.Option(None, "--base", help="Base branch (default: current)."),  # noqa: UP045
    engine: Optional[str] = typer.Option(None, "--engine", help="Default engine for every phase."),  # noqa: UP045
    ci: Optional[str] = typer.Option(  # noqa: UP045
        None, "--ci", help="Also write a CI workflow that reports back: github or gitlab."
    ),
    checks: Optional[str] = typer.Option(  # noqa: UP045
        None, "--checks", help="The command CI runs as the project's checks (with --ci)."
    ),
) -> None:
    """Set up dflow in this repository (creates the state ref; safe to run again).

    In a clone of a repository that already uses dflow, this adopts the remote's state,
    and `git fetch` is set up to bring the remote's state from then on.

    Example: dflow init --base main --engine demo --ci github
    """
    if ci is not None and ci not in ("github", "gitlab"):
        raise UsageError(f"--ci takes github or gitlab, not '{ci}'")
    project, report = sync_setup.init(".", base=base, engine=engine)
    tip = str(report.tip)[:12]
    if report.adopted:
        typer.echo(f"adopted the state of '{report.remote}': {STATE_REF} at {tip}")
    elif report.created:
        typer.echo(f"initialized {STATE_REF} at {tip}")
    else:
        typer.echo(f"already initialized: {STATE_REF} at {tip}")
    _register(project)
    if report.refspec_added:
        typer.echo(f"`git fetch {report.remote}` now brings its dflow state too")
    if ci is not None:
        from ..ci import templates

        done = templates.setup(project, ci, checks)
        for path in done.paths:
            shown = path.relative_to(project.root) if path.is_relative_to(project.root) else path
            typer.echo(f"wrote {shown} and set ci.provider = {done.provider}; commit it: "
                       f"git add {shown} && git commit -m 'ci: dflow reports'")
        if done.install:
            typer.echo(f"CI installs dflow with: pip install \"{done.install}\" (ci.install)")
        else:
            typer.echo(f"ci.install is not set: {done.why_no_install}; set it with "
                       "`dflow config set ci.install 'deksdenflow @ git+https://...'` or the CI "
                       "variable DFLOW_INSTALL, or the CI job stops saying so")
        typer.echo(f"secret: {done.secret}")


def _register(project: Project) -> None:
    """`dflow init` registers the repository, so `dflow projects` and `-C` know it."""
    from ..projects.onboarding import register

    try:
        entry, new = register(project, project.settings().project.base_branch)
    except DflowError as exc:  # the repository is set up; only the registry failed
        typer.echo(f"warning: not registered in the projects list: {exc}", err=True)
        return
    if new:
        typer.echo(f"registered as project '{entry.name}' (`dflow projects` lists them)")


def doctor(json_: bool = JSON_OPTION,
           repair: bool = typer.Option(False, "--repair",
                                       help="Put the state ref back on its last good state "
                                       "(the tip found is kept under a quarantine ref), "
                                       "then give every stuck run the job it needs.")) -> None:
    """Check git, pygit2, the state ref, runs, engines, the lock and optional tools.

    Example: dflow doctor --json
    """
    if repair:
        fixed = doctor_service.repair(".")
        if fixed.changed:
            typer.echo(f"restored {STATE_REF} to {fixed.restored[:12]}; the tip found "
                       f"({fixed.found[:12]}) is kept as {fixed.quarantined}")
        else:
            typer.echo(f"{STATE_REF} at {fixed.restored[:12]} is good; nothing to repair")
        from ..workflow import doctor_runs
        from ..workflow.project import open_project

        for run_id in doctor_runs.repair(open_project()):
            typer.echo(f"repaired {run_id}: requested what it needs")
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
