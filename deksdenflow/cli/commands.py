"""Which module holds each command, its one-line summary, and `dflow --help` without Typer.

`cli/app.py` imports a command's module only when that command runs (docs/decisions/
1300-lazy-command-loading.md); `dflow --help` lists the commands from this table. `dflow
--version` and `dflow --help` are answered from here before Typer is imported at all, so this
module imports nothing but the standard library (and only `textwrap` when help is asked for).
`tests/cli/test_lazy_cli.py` holds the table and the help text to what Typer itself prints.
"""

from __future__ import annotations

import os
import sys

from .. import __version__

ROOT_HELP = "dflow runs AI coding agents through protocols, with all state in git."
DEBUG_HELP = "Show tracebacks for errors."
VERSION_HELP = "Print the version."
PLACE_METAVAR = "NAME|PATH"
PLACE_HELP = "Act on this registered project (or directory) as if dflow was started there."

# (name, module in deksdenflow.cli, summary), in the order `dflow --help` lists them: Typer
# puts single commands before command groups (step, ci, project, config, projects).
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("init", "setup.setup_cmds",
     "Set up dflow in this repository (creates the state ref; safe to run again)."),
    ("doctor", "setup.setup_cmds",
     "Check git, pygit2, the state ref, runs, engines, the lock and optional tools."),
    ("new", "runs.runs_cmds",
     "Start a protocol run: branch and worktree NNNN-name from the base, then a plan job."),
    ("status", "runs.runs_cmds", "Show protocol runs, or one run with its steps."),
    ("events", "runs.runs_cmds", "Show the event timeline, oldest first."),
    ("plan", "runs.workflow_cmds", "Request the plan of a run (again, after a failed plan)."),
    ("run", "runs.workflow_cmds",
     "Request the next step (or all, per the loop policy); plans first when needed."),
    ("qa", "runs.workflow_cmds", "Request QA of a step, or of every step awaiting it."),
    ("show", "runs.show_cmds",
     "Show a run: its plan, its steps with their figures, and its recent events."),
    ("pause", "runs.workflow_cmds",
     "Stop starting new work for a run (a job already running finishes)."),
    ("resume", "runs.workflow_cmds",
     "Resume a paused run; the work it was waiting for is requested again."),
    ("cancel", "runs.workflow_cmds",
     "Cancel a run for good, or abandon one ready to land; its branch and worktree stay."),
    ("abandon", "runs.workflow_cmds",
     "Abandon a run: another name for `dflow cancel` (a run ready to land too)."),
    ("worker", "team.worker_cmds",
     "Run a pool of local workers that claim and run the jobs on the state ref."),
    ("workers", "team.workers_cmds",
     "List the live workers of this repository and the job each one runs."),
    ("sync", "team.sync_cmds",
     "Fetch the remote's state, merge it with ours, and push the result (never forced)."),
    ("trust", "setup.trust_cmds", "Show the settings from origin that changed since they were "
     "trusted here, and trust them."),
    ("pr", "team.sync_cmds",
     "Push the run's branch and open a draft PR (gh) or MR (glab) from its plan."),
    ("console", "views.console_cmds",
     "Open the full-screen console: runs, steps, plans, timeline, logs, workers."),
    ("demo", "setup.demo_cmds",
     "Run a whole protocol with the offline demo engine in a scratch repository."),
    ("diff", "runs.land_cmds", "Show what a run changed against its merge base with the base, or "
     "what one step changed."),
    ("land", "runs.land_cmds",
     "Land a run whose steps all passed on its base branch, and record it merged."),
    ("clean", "runs.land_cmds", "Remove the worktrees and local branches of landed or cancelled "
     "runs (history stays)."),
    ("logs", "runs.land_cmds", "Print an agent transcript (redacted) as stored on the state ref."),
    ("metrics", "views.observe_cmds", "Print the project's figures in the Prometheus text format, "
     "from the state ref alone."),
    ("report", "views.observe_cmds",
     "Tokens, cost, durations, QA pass rate and errors, as tables and terminal charts."),
    ("serve", "views.serve_cmds",
     "Serve the HTTP API and the web console for this project until interrupted."),
    ("mcp", "views.serve_cmds",
     "Serve dflow's tools over the Model Context Protocol on stdio (for Codex, Claude Code)."),
    ("step", "runs.workflow_cmds", "Approve or retry one step of a run."),
    ("ci", "team.sync_cmds", "Report CI results back to protocol runs."),
    ("review", "team.sync_cmds", "Record reviewers' comments on a run's PR/MR (a fix can follow)."),
    ("project", "setup.project_cmds", "The project's settings on the state ref."),
    ("config", "setup.project_cmds", "Read and change settings (project.toml on the state ref)."),
    ("projects", "setup.projects_cmds", "Every repository you work on, from one place."),
)

MODULE_OF = {name: module for name, module, _ in COMMANDS}

# The root's options as Typer lists them (the two completion options are Typer's own).
_OPTION_ROWS = (
    ("--debug", DEBUG_HELP),
    ("--version", VERSION_HELP),
    (f"-C {PLACE_METAVAR}", PLACE_HELP),
    ("--install-completion", "Install completion for the current shell."),
    ("--show-completion",
     "Show completion for the current shell, to copy it or customize the installation."),
    ("-h, --help", "Show this message and exit."),
)


def root_help() -> str:
    """`dflow --help` exactly as Typer's (click's) formatter prints it, without loading it."""
    # click: the terminal's width, at most 80, minus 2, at least 50.
    width = max(min(_columns(), 80) - 2, 50)
    out = [f"Usage: dflow [OPTIONS] COMMAND [ARGS]...\n\n{_wrap(ROOT_HELP, width, 2)}\n"]
    for heading, rows in (("Options", _OPTION_ROWS),
                          ("Commands", tuple((n, s) for n, _, s in COMMANDS))):
        out.append(f"\n{heading}:\n{_definitions(rows, width)}")
    return "".join(out).rstrip("\n") + "\n"


def _columns() -> int:
    """`shutil.get_terminal_size().columns` without importing shutil (fnmatch, re, enum)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    if sys.__stdout__ is None:
        return 80
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


def _definitions(rows: tuple[tuple[str, str], ...], width: int) -> str:
    """click's `HelpFormatter.write_dl` at indent 2."""
    first_col = min(max(len(first) for first, _ in rows), 30) + 2
    lines = []
    for first, second in rows:
        text = _wrap(second, max(width - first_col - 2, 10), 0).splitlines()
        if len(first) <= first_col - 2:
            lines.append(f"  {first}{' ' * (first_col - len(first))}{text[0]}")
        else:
            lines.append(f"  {first}")
            lines.append(f"{' ' * (first_col + 2)}{text[0]}")
        lines.extend(f"{' ' * (first_col + 2)}{line}" for line in text[1:])
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int, indent: int) -> str:
    import textwrap  # why: start-up

    pad = " " * indent
    return textwrap.TextWrapper(width, initial_indent=pad, subsequent_indent=pad,
                                replace_whitespace=False).fill(text)


def print_fast(argv: list[str]) -> bool:
    """Answer `dflow --version` and `dflow --help` from here; True if done."""
    if argv == ["--version"]:
        text = f"dflow {__version__}\n"
    elif argv in (["--help"], ["-h"]):
        text = root_help()
    else:
        return False
    sys.stdout.write(text)  # a closed pipe is main()'s to handle, as for every command
    return True
