"""`dflow console`: the full-screen view (Textual is imported only when it runs)."""

from __future__ import annotations

import sys

import typer

from ...errors import NoTerminal


def console() -> None:
    """Open the full-screen console: runs, steps, plans, timeline, logs, workers.

    Keys drive the same library as the CLI; `?` lists them, `q` quits. The screen follows
    the state ref, so changes from workers, other terminals and `git fetch` appear on their own.

    Example: dflow console
    """
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        # Textual would write escape codes into the pipe and wait for keys forever.
        raise NoTerminal("dflow console needs a terminal (standard input and output are not "
                         "one); run it in a terminal, or use `dflow status` / `dflow show RUN` "
                         "in scripts")
    from ...console.app import DflowConsole  # why: start-up
    from ...wiring import open_project  # why: start-up

    open_project(".").view()  # errors (no repo, not initialized) print like every command's
    app = DflowConsole(".")
    app.run()
    if app.stopped_work:
        typer.echo("dflow console: stopped the agent of the job in progress; the job is given "
                   "back and runs again with the next `dflow run` or worker", err=True)


def register(app: typer.Typer) -> None:
    app.command()(console)
