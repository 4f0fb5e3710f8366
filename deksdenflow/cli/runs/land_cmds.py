"""`dflow diff`, `dflow land`, `dflow clean`: review the change, land it, clean up after it."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from ...errors import DflowError, UsageError
from ...exit_codes import ExitCode
from ...wiring import open_project
from ...workflow.checkouts import cleaning
from ...workflow.checkouts.worktrees import run_here
from ...workflow.delivery import diffs, land_queue, landing
from ...workflow.delivery.replay import STRATEGIES
from ...workflow.lifecycle import facts
from ..render import JSON_OPTION, emit_json, warn


def diff(
    run: Optional[str] = typer.Argument(  # noqa: UP045
        None, help="A run id, number or name (default: the run whose worktree you are in)."),
    step: Optional[int] = typer.Argument(None, help="Step number (default: the whole run)."),  # noqa: UP045
    stat: bool = typer.Option(False, "--stat", help="Files and line counts only."),
    json_: bool = JSON_OPTION,
) -> None:
    """Show what a run changed against its merge base with the base, or what one step changed.

    Paged and coloured like `git diff` on a terminal, plain when piped.

    Example: dflow diff 0001-add-login 2 --stat
    """
    project = open_project()
    snap = project.view().find_run(run_here(project, run))
    found = diffs.diff(project, snap, step, patch=not stat)
    if json_:
        emit_json(found)
        return
    if sys.stdout.isatty():
        raise typer.Exit(diffs.page(project, found, stat))
    if stat:
        for f in found.files:
            counts = "binary" if f.added is None else f"+{f.added} -{f.deleted}"
            typer.echo(f"{f.path}  {counts}")
        typer.echo(f"{len(found.files)} file{'s' if len(found.files) != 1 else ''} changed")
        return
    typer.echo(found.patch, nl=False)


def land(
    run: Optional[str] = typer.Argument(None, help="A run id, number or name."),  # noqa: UP045
    strategy: str = typer.Option("merge", "--strategy", "-s",
                                 help="merge (a merge commit), squash (one commit) or rebase."),
    via: Optional[str] = typer.Option(None, "--via", help="pr: merge the open PR/MR with "  # noqa: UP045
                                      "gh/glab instead of locally."),
    queue: bool = typer.Option(False, "--queue", help="Land every ready run, by number, each "
                               "against the base the one before produced."),
    allow_contract_changes: bool = typer.Option(
        False, "--allow-contract-changes", help="Land even though the run's branch changed "
        "its contract (plan.md, context.md, step files) after the plan commit."),
    json_: bool = JSON_OPTION,
) -> None:
    """Land a run whose steps all passed on its base branch, and record it merged.

    Refuses, changing nothing, when the base (as the remote has it now) conflicts; pushes the
    base when the project has a remote. With --queue, lands every ready run in order; a run
    that conflicts is blocked with the files named and the others go on. A run whose contract
    files were changed after its plan commit is refused unless --allow-contract-changes.

    Example: dflow land 0001-add-login --strategy squash
    """
    if run is None and not queue:
        run = _run_here_or_none()
    if queue or run is None:
        if run is not None or via is not None or not queue:
            raise UsageError("name one run to land, or --queue (without a run or --via) to "
                             "land every ready run")
        _land_queue(strategy, json_, allow_contract_changes)
        return
    if via not in (None, "pr"):
        raise UsageError(f"--via takes pr, not '{via}'")
    if strategy not in STRATEGIES:
        raise UsageError(f"--strategy takes merge, squash or rebase, not '{strategy}'")
    project = open_project()
    if via == "pr":
        from ...ci import pr as pr_service  # why: start-up

        result = pr_service.land_via_pr(project, run, strategy)
    else:
        result = landing.land(project, run, strategy, allow_contract_changes)
    warn(result.warnings)
    if json_:
        emit_json(result)
        return
    where = f" and pushed to {result.remote}" if result.pushed else ""
    how = "merged its PR/MR" if result.via == "pr" else f"landed ({result.strategy})"
    typer.echo(f"{how}: {result.run} is on {result.base} at {result.commit[:9]}{where}")
    if result.updated_checkout:
        typer.echo(f"updated {result.base} in {result.updated_checkout}")
    typer.echo(f"{result.run} is merged" if result.merged else
               f"{result.run} shows merged once {result.base} has it (`dflow sync`)")


def _land_queue(strategy: str, json_: bool, allow_contract_changes: bool) -> None:
    if strategy not in STRATEGIES:
        raise UsageError(f"--strategy takes merge, squash or rebase, not '{strategy}'")
    result = land_queue.land_queue(open_project(), strategy, allow_contract_changes)
    if json_:
        emit_json(result)
    else:
        if not result.entries:
            typer.echo("no run is ready to land")
        for entry in result.entries:
            if entry.landed:
                typer.echo(f"landed: {entry.run} is on {result.base} at {entry.commit[:9]}")
            else:
                typer.echo(f"blocked: {entry.run}: {entry.blocked}")
    if result.blocked:
        raise typer.Exit(ExitCode.WAITING)


def clean(
    runs: Optional[list[str]] = typer.Argument(None, help="Run ids, numbers or names."),  # noqa: UP045, B008
    merged: bool = typer.Option(False, "--merged", help="Every merged run."),
    cancelled: bool = typer.Option(False, "--cancelled",
                                   help="Every cancelled or failed run."),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Say what would go; change "
                                 "nothing."),
    force: bool = typer.Option(False, "--force", help="Also delete unmerged, unpushed branches "
                               "and worktrees with local changes."),
    json_: bool = JSON_OPTION,
) -> None:
    """Remove the worktrees and local branches of landed or cancelled runs (history stays).

    Without runs or flags: every merged and every cancelled run. A branch with commits on no
    remote and not merged is kept unless --force.

    Example: dflow clean --merged --dry-run
    """
    if runs and (merged or cancelled):
        raise UsageError("name runs or use --merged/--cancelled, not both")
    project = open_project()
    report = cleaning.clean(project, cleaning.select(project, runs or [], merged, cancelled),
                            dry_run=dry_run, force=force)
    if json_:
        emit_json(report)
        return
    if not report.runs:
        typer.echo("nothing to clean")
    verb = "would remove" if dry_run else "removed"
    for item in report.runs:
        gone = [what for what, done in (("worktree " + item.worktree, item.worktree_removed),
                                        ("branch " + item.branch, item.branch_deleted)) if done]
        if item.cancelled:
            typer.echo(f"{item.run}: {'would cancel' if dry_run else 'cancelled'} (--force)")
        if gone:
            typer.echo(f"{item.run}: {verb} {' and '.join(gone)}")
        if item.kept:
            typer.echo(f"{item.run}: kept: {item.kept}")
        elif not gone:
            typer.echo(f"{item.run}: nothing left to remove")


def logs(
    run: Optional[str] = typer.Argument(  # noqa: UP045
        None, help="A run id, number or name (default: the run whose worktree you are in)."),
    step: Optional[int] = typer.Argument(None, help="Step number (default: the run's plan "  # noqa: UP045
                                         "and fix-CI transcripts)."),
    attempt: Optional[int] = typer.Option(None, "--attempt", "-a", min=1,  # noqa: UP045
                                          help="Which attempt (default: the last)."),
    qa: bool = typer.Option(False, "--qa", help="The step's QA transcript, not its execution."),
    prompt: bool = typer.Option(False, "--prompt", help="What the agent was told (the prompt "
                                "of that attempt), not what it did."),
) -> None:
    """Print an agent transcript (redacted) as stored on the state ref.

    `dflow show RUN` lists every transcript with the command that prints it.

    Example: dflow logs 0001-add-login 2 --attempt 1
    """
    project = open_project()
    view = project.view()
    snap = view.find_run(run_here(project, run))
    found = facts.pick(facts.transcripts(snap, view.artifact_names(snap.run.uid)), step, qa,
                       attempt)
    name = found.name
    if prompt:
        from ...workflow.phases.agents import prompt_artifact  # why: start-up

        name = prompt_artifact(found.name)
        if view.artifact(snap.run.uid, name) is None:
            raise DflowError(f"no prompt is stored for {found.name} (a failed attempt's, or one "
                             "recorded before prompts were kept); `dflow logs` without --prompt "
                             "shows what the agent did")
    text = view.artifact(snap.run.uid, name) or b""
    typer.echo(f"# {name}")
    typer.echo(text.decode("utf-8", errors="replace"), nl=False)


def _run_here_or_none() -> str | None:
    try:
        return run_here(open_project(), None)
    except UsageError:
        return None


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    for command in (diff, land, clean, logs):
        app.command()(command)
