"""`dflow new`, `dflow status`, `dflow events`."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from ...context.project import Project
from ...domain.decisions.reconcile import Waiting
from ...errors import UsageError
from ...reads import excerpts, listing
from ...wiring import Wiring, open_project
from ...workflow.lifecycle import runs
from ..render import JSON_OPTION, ago, console, emit_json, styled, tokens
from ..table import print_table
from ..text import event_detail
from . import status_lines
from .fast_controls import created_text, json_text


def new(
    name: Optional[str] = typer.Argument(  # noqa: UP045
        None, help="Short name; slugified into the run id NNNN-name."),
    task: Optional[str] = typer.Option(  # noqa: UP045
        None, "--task", "-t", help="What the agent should do."),
    from_event: Optional[str] = typer.Option(  # noqa: UP045
        None, "--from-event", help="A GitHub `issues` or GitLab issue webhook payload (JSON "
        "file): the run is the issue's (name, task, link; its PR closes it)."),
    from_issue: Optional[str] = typer.Option(  # noqa: UP045
        None, "--from-issue", help="An issue's number or URL, read through gh or glab."),
    no_plan: bool = typer.Option(False, "--no-plan", help="Record the run without planning."),
    engine: Optional[str] = typer.Option(None, "--engine", help="Engine for this run."),  # noqa: UP045
    variant: Optional[str] = typer.Option(  # noqa: UP045
        None, "--variant", help="Prompt/model variant from [variants] ('default': none)."),
    json_: bool = JSON_OPTION,
) -> None:
    """Start a protocol run: branch and worktree NNNN-name from the base, then a plan job.

    From an issue: `dflow new --from-event "$GITHUB_EVENT_PATH"` (what the CI job runs) or
    `dflow new --from-issue 42`; the task is the issue's title and body.

    Example: dflow new add-login --task "Add a login page" --engine demo
    """
    project = open_project()
    if from_event is not None or from_issue is not None:
        _new_from_issue(project, name, task, from_event, from_issue, engine, no_plan,
                        variant, json_)
        return
    if name is None or task is None:
        raise UsageError("name the run and say what to do: dflow new NAME --task TEXT "
                         "(or --from-event FILE / --from-issue N)")
    snap = runs.create_run(project, name, task, engine=engine, plan=not no_plan,
                           variant=variant)
    # The same text as `dflow new` answered before Typer (cli/runs/fast_controls.py, 1315).
    text = (json_text(runs.run_line(snap, project.settings())) if json_
            else created_text(snap, project.settings(), no_plan))
    typer.echo(text, nl=False)


def _new_from_issue(project: Project, name: str | None, task: str | None,
                    from_event: str | None, from_issue: str | None, engine: str | None,
                    no_plan: bool, variant: str | None, json_: bool) -> None:
    from ...ci import intake  # why: start-up

    if from_event is not None and from_issue is not None:
        raise UsageError("choose one of --from-event and --from-issue")
    if task is not None:
        raise UsageError("the task of a run made from an issue is the issue's title and "
                         "body; drop --task")
    issue = (intake.read_event(from_event) if from_event is not None
             else intake.read_issue(project, from_issue or ""))
    snap, made = intake.create(project, issue, name, engine, not no_plan, variant)
    if json_:
        typer.echo(json_text(runs.run_line(snap, project.settings())), nl=False)
    elif made:
        typer.echo(created_text(snap, project.settings(), no_plan), nl=False)
    else:
        typer.echo(f"issue #{issue.number} already has run {snap.run.id}; nothing made")


def status(
    run: Optional[str] = typer.Argument(None, help="A run id, number or name."),  # noqa: UP045
    ready: bool = typer.Option(False, "--ready", help="Only runs whose steps all passed, "
                               "not landed yet."),
    merged: bool = typer.Option(False, "--merged", help="Only runs merged into their base."),
    active: bool = typer.Option(False, "--active", help="Only runs still in progress or "
                                "blocked."),
    all_projects: bool = typer.Option(False, "--all", help="The runs of every registered "
                                      "project, one table (`dflow projects` lists them)."),
    json_: bool = JSON_OPTION,
) -> None:
    """Show protocol runs, or one run with its steps.

    `ready to land` means every step passed; `merged` means the branch is on the base.
    With --all, the runs of every registered project, each with its project.

    Example: dflow status --ready --json
    """
    chosen = [name for name, on in (("ready", ready), ("merged", merged), ("active", active))
              if on]
    if len(chosen) > 1:
        raise UsageError("choose one of --ready, --merged and --active")
    only = chosen[0] if chosen else None
    if all_projects:
        if run:
            raise UsageError("--all lists every project's runs; drop RUN, or use -C PROJECT")
        _status_all(only, json_)
        return
    if not run and only is None:  # every run: through the per-run cache (status_lines)
        if json_:
            typer.echo(listing.json_text(open_project()))
        else:
            status_lines.print_listing(listing.listed(open_project()))
        return
    report = runs.status(open_project(), run, only=only)
    if json_:
        emit_json(report)
        return
    render_status(report, single=bool(run),
                  empty=f"no {only} runs" if only else "no protocol runs yet; start one with "
                  "`dflow new NAME --task TEXT`")


def _status_all(only: str | None, json_: bool) -> None:
    from ...projects import overview  # why: start-up

    report = overview.status_all(Wiring(), only=only)
    if json_:
        emit_json(report)
        return
    out = console()
    for error in report.errors:
        out.print(f"{error.project}: {error.error}", markup=False, highlight=False)
    if not report.runs:
        out.print(f"no {only + ' ' if only else ''}runs in any registered project")
        return
    table = Table("project", "id", "status", "steps", "jobs", "tokens", "updated", box=None)
    for line in report.runs:
        state = _stage(line)
        jobs = ", ".join(f"{j['kind']}:{j['status']}" for j in line.open_jobs) or "-"
        table.add_row(line.project, line.id, state, f"{line.steps_done}/{line.steps_total}",
                      jobs, tokens(line.tokens), ago(line.updated))
    out.print(table)


def _stage(line: runs.RunLine) -> str:
    """The run's stage, styled (domain/runs/stages.py)."""
    return status_lines.stage_markup(line.status, line.stage)


def render_status(report: runs.StatusReport, single: bool = False,
                  empty: str = "no protocol runs yet; start one with `dflow new NAME --task TEXT`",
                  ) -> None:
    """The status table (one run with its steps when `single`); `dflow demo` ends with it."""
    out = console()
    if single:
        line = report.runs[0]
        out.print(f"{line.id}  {_stage(line)}")
        out.print(f"task: {line.task}")
        for key, why in line.blocks.items():
            out.print(f"blocked by {key}: {why}", markup=False)
        if line.waiting is not None:
            out.print(waiting_line(line.waiting), markup=False)
        for alert in line.alerts:
            out.print(f"alert: {alert.text}", markup=False)
        rows = [[f"{s.index:02d}", s.type, s.title, styled(s.status), str(s.attempts),
                 tokens(s.tokens)] for s in line.steps]
        if line.steps:
            print_table(out, ("step", "type", "title", "status", "attempts", "tokens"), rows)
        else:
            out.print("no steps yet")
        return
    status_lines.print_listing([excerpts.of_run_line(line) for line in report.runs], empty)


def waiting_line(waiting: Waiting) -> str:
    """`waits: <reason> — <command>`, as status, show and the console print it."""
    return excerpts.waiting_line(waiting.reason, waiting.command)


def events(
    run: Optional[str] = typer.Argument(None, help="A run id, number or name."),  # noqa: UP045
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=1, help="Newest N only."),  # noqa: UP045
    json_: bool = JSON_OPTION,
) -> None:
    """Show the event timeline, oldest first.

    Example: dflow events 0001-add-login --limit 20
    """
    project = open_project()
    found = runs.events(project, run, limit)
    if json_:
        emit_json(found)
        return
    names = {s.run.uid: s.run.id for s in project.view().runs()}
    if not found:
        typer.echo("no events yet")
    for e in found:
        where = names.get(e.run or "", "-")
        if e.step is not None:
            where += f"/{e.step:02d}"
        detail = event_detail(e.data.model_dump(mode="json"))
        typer.echo(f"{e.at:%Y-%m-%d %H:%M:%S}  {e.lamport:>5}  {where:<24} {e.type.value:<18} "
                   f"{e.actor}{'  ' + detail if detail else ''}")


def register(app: typer.Typer) -> None:
    app.command()(new)
    app.command()(status)
    app.command()(events)
