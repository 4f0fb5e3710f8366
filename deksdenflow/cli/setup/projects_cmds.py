"""`dflow projects [--json]`, `dflow projects add PATH|URL`, `dflow projects remove NAME`."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ...errors import UsageError, did_you_mean
from ...projects import onboarding, overview, registry
from ...projects.onboarding import SetupEvent
from ...wiring import Wiring
from ..render import JSON_OPTION, ago, console, emit_json, is_plain, warn

projects_app = typer.Typer(help="Every repository you work on, from one place.",
                           invoke_without_command=True)


@projects_app.callback()
def projects(ctx: typer.Context, json_: bool = JSON_OPTION) -> None:
    """List the registered projects with their runs (active/ready/failed) and last activity.

    Example: dflow projects --json
    """
    if ctx.invoked_subcommand is not None:
        return
    found = overview.summaries(Wiring())
    if json_:
        emit_json(found)
        return
    if not found:
        typer.echo("no projects registered; add one with `dflow projects add PATH|URL`")
        return
    table = Table("name", "path", "base", "ci", "engines", "active", "ready", "failed",
                  "last activity", box=None)
    for p in found:
        where = p.path if not p.error else f"{p.path} ({p.error})"
        if p.setup != "done":
            where += f" (setup stopped at {p.setup})"
        table.add_row(p.name, where, p.base or "-", p.ci or "-", ",".join(p.engines) or "-",
                      str(p.runs_active), str(p.runs_ready), str(p.runs_failed),
                      ago(p.last_activity))
    console().print(table)


@projects_app.command("add")
def add(
    source: str = typer.Argument(..., help="A repository's path, or a git URL to clone."),
    name: Optional[str] = typer.Option(None, "--name", help="The project's name (default: the directory's)."),  # noqa: UP045, E501
    base: Optional[str] = typer.Option(None, "--base", help="Base branch (default: the remote's HEAD)."),  # noqa: UP045, E501
    engine: Optional[str] = typer.Option(None, "--engine", help="Default engine (default: the first agent CLI on PATH)."),  # noqa: UP045, E501
    ci: bool = typer.Option(False, "--ci", help="Also write the CI workflow for the detected provider."),  # noqa: E501
    json_: bool = JSON_OPTION,
) -> None:
    """Register a repository and set dflow up in it: clone (for a URL), init, CI template.

    A URL is cloned under the user's data dir (DFLOW_CLONE_DIR or `clone_dir` in the
    registry changes where). A setup that stopped part-way resumes when run again.

    Example: dflow projects add https://github.com/me/app.git --name app
    """
    show = _Progress(quiet=json_)
    try:
        result = onboarding.add(Wiring(), source, name=name, ci_template=ci, sink=show, base=base,
                                engine=engine)
    finally:
        show.stop()
    warn(result.warnings)
    if json_:
        emit_json(result)
        return
    typer.echo(f"added {result.entry.name}: {result.entry.path} (base {result.answers.base}, "
               f"engine {result.answers.engine}, ci {result.answers.ci})")


@projects_app.command("remove")
def remove(
    name: str = typer.Argument(..., help="The project's name (`dflow projects` lists them)."),
    delete_clone: bool = typer.Option(False, "--delete-clone",
                                      help="Also delete the clone dflow made for it."),
) -> None:
    """Forget a project. Deletes nothing, unless --delete-clone on a clone dflow made.

    Example: dflow projects remove app --delete-clone
    """
    known = registry.load().projects
    entry = known.get(name)
    if entry is None:
        raise registry.ProjectNotRegistered(
            f"no project named '{name}'{did_you_mean(name, list(known))}; `dflow projects` "
            "lists them")
    if delete_clone and not entry.managed:
        raise UsageError(f"'{name}' is your own repository at {entry.path}, not a clone dflow "
                         "made; remove it without --delete-clone")
    registry.remove(name)
    typer.echo(f"removed {name} from the registry")
    if delete_clone:
        shutil.rmtree(entry.path, ignore_errors=True)
        typer.echo(f"deleted {entry.path}")


class _Progress:
    """Setup steps: a Rich spinner per step on a terminal, plain lines in CI, pipes, --json."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.rich = not quiet and not is_plain() and sys.stdout.isatty()
        self.status: object | None = None

    def __call__(self, e: SetupEvent) -> None:
        if self.quiet:
            return
        if self.rich and e.status == "started":
            self.status = console().status(f"{e.project}: {e.step} ...")
            self.status.start()
            return
        self.stop()
        if e.status == "started":
            typer.echo(f"{e.project}: {e.step} ...")
            return
        took = f" ({e.seconds:.1f}s)" if e.seconds else ""
        detail = f"  {e.detail}" if e.detail and e.status != "skipped" else ""
        typer.echo(f"{e.project}: {e.step} {e.status}{took}{detail}")

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()  # type: ignore[attr-defined]
            self.status = None


def resolve_place(name_or_path: str) -> Path:
    """`dflow -C NAME|PATH`: a registered project's directory, else the path itself."""
    known = registry.load().projects
    entry = known.get(name_or_path)
    if entry is not None:
        return Path(entry.path)
    path = Path(name_or_path).expanduser()
    if not path.is_dir():
        raise UsageError(f"-C {name_or_path}: no registered project and no directory by that "
                         f"name{did_you_mean(name_or_path, list(known))}; `dflow projects` "
                         "lists the projects")
    return path


def register(app: typer.Typer) -> None:
    app.add_typer(projects_app, name="projects")
