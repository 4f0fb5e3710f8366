"""`dflow worker` (run the local pool) and `dflow workers` (who is working now)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

import typer

from ...context.project import Project
from ...domain.runs.models import JobKind
from ...errors import DflowError, UsageError
from ...jobs import pool
from ...jobs.runner import worker_id
from ...jobs.worker import Transition, WorkerOptions
from ...wiring import open_project
from ..render import LOG_FORMAT_OPTION, console, is_plain, safe_text

EVENT_STYLE = {"finished": "green", "failed": "red", "retry": "yellow", "recovered": "yellow",
               "released": "yellow", "claimed": "cyan", "running": "blue"}


def print_transition_json(t: Transition) -> None:
    """One JSON object per transition, with every correlation id (picklable, like below)."""
    from ...observe.logs import json_line  # why: start-up

    level = {"failed": "error", "retry": "warning", "recovered": "warning", "lost": "error"}
    message = f"{t.event} {t.kind} {t.run_id or ''}".strip() if t.kind else t.event
    print(json_line(message, level.get(t.event, "info"), t.at, project=t.project or None,
                    run=t.run_id, step=t.step, job=t.job, attempt=t.attempt, worker=t.worker,
                    event=t.event, kind=t.kind, detail=safe_text(t.detail) or None), flush=True)


def print_transition(t: Transition) -> None:
    """One line per job transition (runs in each worker process: keep it picklable)."""
    what = f"{t.kind} {t.run_id or t.run or ''}".rstrip() if t.job else ""
    if t.step is not None:
        what += f" step {t.step:02d}"
    if t.job:
        what += f" (job {t.job})"
    text = f"{t.at:%H:%M:%S} {t.worker:<22} {t.event:<9} {what}"
    if t.detail:
        text += f"  {t.detail}"
    if is_plain():
        print(text.rstrip(), flush=True)
        return
    style = EVENT_STYLE.get(t.event, "")
    event = f"[{style}]{t.event:<9}[/]" if style else f"{t.event:<9}"
    line = f"[dim]{t.at:%H:%M:%S}[/] {t.worker:<22} {event} {what}"
    # soft_wrap: a log line stays one line whatever the width (a pipe is 80 columns to Rich)
    console().print(line + (f"  {t.detail}" if t.detail else ""), markup=True, highlight=False,
                    soft_wrap=True)


def worker(
    jobs: Optional[int] = typer.Option(  # noqa: UP045
        None, "-j", "--jobs", min=1, help="Worker processes (default: the CPU count)."
    ),
    burst: bool = typer.Option(False, "--burst", help="Exit when no work is left."),
    queue: Optional[list[str]] = typer.Option(  # noqa: UP045, B008
        None, "--queue", "-q", metavar="KIND", help="Only take jobs of this kind (repeatable)."
    ),
    grace: Optional[float] = typer.Option(  # noqa: UP045
        None, "--grace", min=0, help="Seconds a stop waits for running jobs (worker.grace_s)."
    ),
    remote: Optional[str] = typer.Option(  # noqa: UP045
        None, "--remote", help="Claim through this git remote with leases (a CI runner, say)."
    ),
    all_projects: bool = typer.Option(
        False, "--all-projects", help="Serve every registered project's queue, in turn."
    ),
    log_format: Optional[str] = LOG_FORMAT_OPTION,  # noqa: UP045
) -> None:
    """Run a pool of local workers that claim and run the jobs on the state ref.

    Ctrl-C (or SIGTERM) stops taking work and lets running jobs finish within the grace
    period, then releases them; a second Ctrl-C stops at once.

    With --remote NAME it is one worker that claims through that git remote with a
    time-bounded lease (for CI runners and other machines).

    With --all-projects one pool serves every registered project (`dflow projects`), taking
    one job from each in turn.

    Example: dflow worker -j 2 --burst
    """
    from ...observe.logs import log_format as chosen_format  # why: start-up

    sink = print_transition_json if chosen_format(log_format) == "json" else print_transition
    if all_projects:
        if remote is not None:
            raise UsageError("--all-projects serves local queues; drop --remote")
        _run_local(_registered_projects(), jobs, WorkerOptions(
            kinds=_kinds(queue), burst=burst, grace_s=grace), sink)
        return
    project = open_project()
    if remote is not None:
        _remote_worker(project, remote, _kinds(queue), burst)
        return
    _run_local([project], jobs, WorkerOptions(kinds=_kinds(queue), burst=burst, grace_s=grace),
               sink)


def _registered_projects() -> list[Project]:
    from ...projects import registry  # why: start-up

    found = []
    for entry in registry.load().projects.values():
        try:
            found.append(open_project(entry.path))
        except DflowError as exc:
            typer.echo(f"warning: skipping project '{entry.name}': {exc}", err=True)
    return found


def _run_local(projects: list[Project], jobs: int | None, options: WorkerOptions,
               sink: Callable[[Transition], None]) -> None:
    result = pool.run_pool(projects, jobs, options=options, sink=sink)
    if result.error:
        raise DflowError(result.error)
    if result.killed or result.interrupted:
        raise typer.Exit(130)


def _remote_worker(project: Project, remote: str, kinds: set[JobKind] | None,
                   burst: bool) -> None:
    """One worker that claims through the remote, with a lease (docs/sync.md)."""
    from ...sync import leases  # why: start-up

    me = worker_id("remote-")
    names = project.settings().secret_env_names()

    def show(o: leases.RemoteOutcome) -> None:
        typer.echo(f"{me} {'finished' if o.ok else 'failed':<9} {o.kind} {o.job}"
                   + (f"  {safe_text(o.error, names)}" if o.error else ""))

    done = leases.work(project, remote, me, kinds=kinds, burst=burst, sink=show)
    typer.echo(f"{me}: {done} job(s) run through '{remote}'")


def _kinds(names: list[str] | None) -> set[JobKind] | None:
    if not names:
        return None
    known = {k.value: k for k in JobKind}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown job kind '{unknown[0]}'; use one of: {', '.join(known)}")
    return {known[n] for n in names}


def register(app: typer.Typer) -> None:
    app.command()(worker)
