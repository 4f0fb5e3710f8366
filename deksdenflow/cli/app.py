"""The Typer app: the global options, the error handler, and the command groups."""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any, Optional

import typer
from typer import _click as click
from typer.core import TyperGroup

from .. import __version__
from ..errors import DflowError
from .render import safe_text


class FullHelpGroup(TyperGroup):
    """Lists every command with its whole first docstring line, never cut with "..."."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class DflowGroup(FullHelpGroup):
    """Turns every error into one line and an exit code (traceback only with --debug)."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        debug = bool(ctx.params.get("debug")) or os.environ.get("DFLOW_DEBUG") == "1"
        try:
            return super().invoke(ctx)
        except DflowError as exc:
            if debug:
                traceback.print_exc()
            typer.echo(f"error: {safe_text(str(exc))}", err=True)
            ctx.exit(exc.exit_code)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # a bug in dflow: say so, keep the user's terminal clean
            if debug:
                traceback.print_exc()
            else:
                typer.echo(
                    f"error: dflow hit an internal error ({type(exc).__name__}: "
                    f"{safe_text(str(exc))}); "
                    "run again with --debug for the traceback and report it",
                    err=True,
                )
            ctx.exit(3)


app = typer.Typer(
    cls=DflowGroup,
    help="dflow runs AI coding agents through protocols, with all state in git.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dflow {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
    place: Optional[str] = typer.Option(  # noqa: UP045
        None, "-C", metavar="NAME|PATH",
        help="Act on this registered project (or directory) as if dflow was started there.",
    ),
) -> None:
    """dflow runs AI coding agents through protocols, with all state in git.

    Example: dflow init && dflow new add-login --task "Add a login page"
    """
    if place is not None:
        from .projects_cmds import resolve_place

        os.chdir(resolve_place(place))


def _register() -> None:
    # One module per command group; each owns its registration so groups never collide.
    from . import (
        console_cmds,
        demo_cmds,
        land_cmds,
        project_cmds,
        projects_cmds,
        runs_cmds,
        setup_cmds,
        sync_cmds,
        worker_cmds,
        workflow_cmds,
    )

    for module in (setup_cmds, runs_cmds, workflow_cmds, worker_cmds, sync_cmds, console_cmds,
                   demo_cmds, project_cmds, land_cmds, projects_cmds):
        module.register(app)
    for group in app.registered_groups:  # `dflow step --help` lists whole summaries too
        if group.typer_instance is not None:
            group.typer_instance.info.cls = FullHelpGroup


_register()


def run() -> None:
    sys.exit(app(prog_name="dflow"))
