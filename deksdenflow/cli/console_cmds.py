"""`dflow console`: the full-screen view (Textual is imported only when it runs)."""

from __future__ import annotations

import typer


def console() -> None:
    """Open the full-screen console: runs, steps, plans, timeline, logs, workers.

    Keys drive the same library as the CLI; `?` lists them, `q` quits. The screen follows
    the state ref, so changes from workers, other terminals and `git fetch` appear on their own.

    Example: dflow console
    """
    from ..console.app import DflowConsole
    from ..wiring import open_project

    open_project(".").view()  # errors (no repo, not initialized) print like every command's
    app = DflowConsole(".")
    app.run()
    if app.stopped_work:
        typer.echo("dflow console: stopped the agent of the job in progress; the job is given "
                   "back and runs again with the next `dflow run` or worker", err=True)


def register(app: typer.Typer) -> None:
    app.command()(console)
