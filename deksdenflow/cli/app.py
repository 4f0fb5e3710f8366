"""The Typer app: the global options, the error handler, and the commands, each module
imported when its command runs (`commands.COMMANDS` says which)."""

from __future__ import annotations

import contextlib
import errno
import functools
import importlib
import json
import os
import sys
import traceback
from collections.abc import Iterator, MutableMapping
from typing import Any, Optional

import typer
from typer import _click as click
from typer.core import TyperGroup

from .. import __version__
from ..errors import DflowError
from ..exit_codes import ExitCode
from ..reads import gitdir as cache
from .commands import (
    COMMANDS,
    DEBUG_HELP,
    MODULE_OF,
    PLACE_HELP,
    PLACE_METAVAR,
    ROOT_HELP,
    VERSION_HELP,
)


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
    """Turns every error into one line and an exit code (traceback only with --debug).

    The codes are `ExitCode` (docs/exit-codes.md); a bug's traceback always goes to the crash
    log and the message says where; `--json` commands also print the error as JSON on stdout."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        debug = bool(ctx.params.get("debug")) or debug_from_env()
        # The subcommand's arguments are not parsed yet; a `--json` among them asks for JSON.
        as_json = "--json" in [*getattr(ctx, "_protected_args", []), *getattr(ctx, "args", [])]
        try:
            result = super().invoke(ctx)
            if ctx.obj is not None:  # the root callback's implicit sync (decision 0403)
                ctx.obj.after_command()
                _say_notes(ctx.obj.take_notes())
            return result
        except (typer.Exit, typer.Abort, click.ClickException):
            raise
        except BrokenPipeError:
            _quiet_pipe()
            ctx.exit(int(ExitCode.OK))  # the reader (`| head`) had enough
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            ctx.exit(int(ExitCode.INTERRUPTED))
        except Exception as exc:
            message, code = _describe(exc, debug)
            if as_json:
                typer.echo(json.dumps({"error": {"message": message, "code": int(code)}}))
            typer.echo(f"error: {message}", err=True)
            ctx.exit(int(code))


def debug_from_env() -> bool:
    """DFLOW_DEBUG=1, read raw: a bad DFLOW_DEBUG must not hide the error it is about."""
    return os.environ.get("DFLOW_DEBUG") == "1"


_DISK_ERRORS = {errno.ENOSPC: "the disk is full", errno.EROFS: "the file system is read-only",
                errno.EDQUOT: "the disk quota is used up", errno.EACCES: "permission denied"}


def _describe(exc: Exception, debug: bool) -> tuple[str, ExitCode]:
    """The one sentence for an error, and its exit code (a bug also gets its crash log)."""
    from .render import safe_text  # why: start-up

    if debug:
        traceback.print_exc()
    if isinstance(exc, DflowError):
        return safe_text(str(exc)), ExitCode(exc.exit_code)
    if isinstance(exc, OSError) and exc.errno in _DISK_ERRORS:
        where = f" ({exc.filename})" if exc.filename else ""
        return (f"cannot write{where}: {_DISK_ERRORS[exc.errno]}; free space or fix the "
                "permissions and run again", ExitCode.FAILED)
    from ..crash import write_crash_log  # why: start-up

    log = write_crash_log(exc)
    where = f"the traceback is in {log}" if log else "run again with --debug for the traceback"
    what = f"{type(exc).__name__}: {safe_text(str(exc))}"
    return f"dflow hit an internal error ({what}); {where}; please report it", ExitCode.INTERNAL


def _quiet_pipe() -> None:
    # Python would complain again when it flushes stdout at exit; point it at /dev/null.
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):  # no real descriptor (the test runner)
        os.dup2(devnull, sys.stdout.fileno())


class LazyGroup(DflowGroup):
    """The root: a command's module is imported when that command runs, not before.

    `dflow --help` lists the summaries from `commands.COMMANDS`; a typo still gets Typer's
    "did you mean" from the table's names."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _LazyCommands()

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary) for name, _, summary in COMMANDS])


class _LazyCommands(MutableMapping[str, click.Command]):
    """The root's commands by name, each module imported on first lookup (a command added
    with `add_command` is kept as it is)."""

    def __init__(self) -> None:
        self._added: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name in self._added:
            return self._added[name]
        return _module_commands(MODULE_OF[name])[name]  # KeyError: no such command

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._added[name] = command

    def __delitem__(self, name: str) -> None:
        del self._added[name]

    def __iter__(self) -> Iterator[str]:
        return iter([*MODULE_OF, *(n for n in self._added if n not in MODULE_OF)])

    def __len__(self) -> int:
        return len(set(MODULE_OF) | set(self._added))


@functools.cache
def _module_commands(module: str) -> dict[str, click.Command]:
    """The click commands one `*_cmds` module registers (its `register(app)`)."""
    holder = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)
    importlib.import_module(f"{__package__}.{module}").register(holder)
    for group in holder.registered_groups:  # `dflow step --help` lists whole summaries too
        if group.typer_instance is not None:
            group.typer_instance.info.cls = FullHelpGroup
    return dict(typer.main.get_group(holder).commands)


app = typer.Typer(
    cls=LazyGroup,
    help=ROOT_HELP,
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
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help=VERSION_HELP
    ),
    place: Optional[str] = typer.Option(  # noqa: UP045
        None, "-C", metavar=PLACE_METAVAR, help=PLACE_HELP,
    ),
) -> None:
    """dflow runs AI coding agents through protocols, with all state in git.

    Example: dflow init && dflow new add-login --task "Add a login page"
    """
    if place is not None:
        from .setup.projects_cmds import resolve_place  # why: start-up

        os.chdir(resolve_place(place))
    from .. import environment  # why: start-up

    environment.check_all()  # a bad DFLOW_* value fails here, naming the variable
    # The composition root builds the command's sync policy; the result callback uses it.
    # Without a remote in the git config there is nothing to sync: skip loading it; with
    # one, nothing is loaded either while no ref it reads moved (sync/seen.py).
    common = cache.common_dir_of(os.getcwd())
    if common is None or cache.may_have_remote(common):
        from ..sync import seen  # why: start-up
        from ..wiring import Wiring  # why: start-up

        if common is None:  # outside a repository: the command says so properly
            ctx.obj = Wiring().auto_sync()
            ctx.obj.before_command(ctx.invoked_subcommand)
        else:
            ctx.obj = seen.implicit(common, ctx.invoked_subcommand, Wiring().auto_sync)
        if ctx.obj is not None:
            _say_notes(ctx.obj.take_notes())


def _say_notes(notes: list[str]) -> None:
    if not notes:
        return
    from .render import safe_text  # why: start-up

    for line in notes:
        typer.echo(safe_text(line), err=True)


def run() -> None:
    sys.exit(app(prog_name="dflow"))
