"""`dflow sync`, `dflow ci report`, `dflow pr` (the implicit sync around other commands is
cli/app.py's root callback)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ...sync import service
from ...wiring import Wiring, open_project
from ..render import JSON_OPTION, LOG_FORMAT_OPTION, emit_json, warn


def sync(
    remote: Optional[str] = typer.Option(  # noqa: UP045
        None, "--remote", help="Remote to sync with (default: project.remote)."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Fetch the remote's state, merge it with ours, and push the result (never forced).

    In a fresh clone of a repository that uses dflow, this adopts the remote's state.

    Example: dflow sync --remote origin
    """
    report = service.sync(open_project(), remote)
    if json_:
        emit_json(report)
        return
    pushed = ", pushed" if report.pushed else ""
    typer.echo(f"{report.remote}: {report.outcome}{pushed} (state at {str(report.tip)[:12]})")
    for r in report.renumbered:
        typer.echo(f"renumbered {r.old_id} -> {r.new_id}: another clone took its number "
                   f"(its branch stays {r.branch})")
    for path in report.conflicts:
        typer.echo(f"note: {path} was changed on both sides; kept one version, check it")
    from ...sync.auto import lost_notes  # why: start-up

    for line in lost_notes(report):
        typer.echo(line)
    for run_id in report.completed:
        typer.echo(f"merged {run_id}: its branch is on the base branch")
    if report.untrusted:
        typer.echo(f"settings from origin changed {', '.join(report.untrusted)}: the jobs that "
                   "use them wait here until you review them with `dflow trust`")


ci_app = typer.Typer(help="Report CI results back to protocol runs.", no_args_is_help=True)


@ci_app.command("report")
def ci_report(
    status: str = typer.Option(..., "--status", help="running | success | failure"),
    branch: Optional[str] = typer.Option(None, "--branch", help="Branch (default: from CI env)."),  # noqa: UP045
    url: Optional[str] = typer.Option(None, "--url", help="Link to the CI job."),  # noqa: UP045
    log: Optional[Path] = typer.Option(None, "--log", help="Log file; its redacted tail is kept."),  # noqa: UP045, B008
    remote: Optional[str] = typer.Option(None, "--remote", help="Remote with the state."),  # noqa: UP045
    json_: bool = JSON_OPTION,
    log_format: Optional[str] = LOG_FORMAT_OPTION,  # noqa: UP045
) -> None:
    """Record a CI result on the run of this branch and push it (GitHub/GitLab env is read).

    Example: dflow ci report --status failure --log checks.log
    """
    from ...ci import report as ci_service  # why: start-up
    from ...observe.logs import json_line  # why: start-up
    from ...observe.logs import log_format as chosen_format  # why: start-up

    as_lines = chosen_format(log_format) == "json"
    result = ci_service.report(Wiring(), ".", status=status, branch=branch, url=url, log=log,
                               remote=remote)
    warn(result.warnings)
    if json_:
        emit_json(result)
    elif as_lines:
        typer.echo(json_line(result.message, "info" if result.run else "warning",
                             project=Path.cwd().name, run=result.run, worker=_ci_actor(),
                             status=result.status, branch=result.branch, url=result.url or None,
                             pushed=result.pushed))
    else:
        typer.echo(result.message, err=result.run is None)


def _ci_actor() -> str:
    """The CI job as the worker of a report (the same actor the event records)."""
    from ...ci.env import detect  # why: start-up

    found = detect()
    return f"ci:{found.provider}:{found.job}" if found.job else f"ci:{found.provider}"


def pr(
    run: str = typer.Argument(..., help="A run id, number or name."),
    json_: bool = JSON_OPTION,
) -> None:
    """Push the run's branch and open a draft PR (gh) or MR (glab) from its plan.

    Example: dflow pr 0001-add-login
    """
    from ...ci import pr as pr_service  # why: start-up

    url = pr_service.open_pr(open_project(), run)
    if json_:
        emit_json({"run": run, "url": url})
    else:
        typer.echo(url)


review_app = typer.Typer(help="Record reviewers' comments on a run's PR/MR (a fix can follow).",
                         no_args_is_help=True)


@review_app.command("report")
def review_report(
    event_file: Path = typer.Option(..., "--event-file", help="A pull_request_review, "  # noqa: B008
                                    "pull_request_review_comment or GitLab note payload."),
    remote: Optional[str] = typer.Option(None, "--remote", help="Remote with the state."),  # noqa: UP045
    json_: bool = JSON_OPTION,
) -> None:
    """Record a review on the run of the branch it names and push it (a CI job's step).

    With review.fix = auto, changes requested hand the comments to the agent in a fix job.

    Example: dflow review report --event-file "$GITHUB_EVENT_PATH"
    """
    from ...ci import review_report as review_service  # why: start-up

    result = review_service.report(Wiring(), ".", event_file=event_file, remote=remote)
    warn(result.warnings)
    if json_:
        emit_json(result)
    else:
        typer.echo(result.message)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(sync)
    app.command()(pr)
    app.add_typer(ci_app, name="ci")
    app.add_typer(review_app, name="review")
