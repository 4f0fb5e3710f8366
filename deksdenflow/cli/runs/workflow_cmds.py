"""`dflow plan|run|qa|pause|resume|cancel|abandon` and `dflow step approve|retry`
(show: show_cmds)."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Optional

import typer

from ...context.project import Project
from ...domain.config import settings_trust
from ...domain.decisions.reconcile import waiting
from ...domain.runs.models import Job, RunSnapshot
from ...exit_codes import ExitCode
from ...jobs.liveness import new_worker_id
from ...jobs.runner import Outcome
from ...wiring import open_project
from ...workflow.lifecycle import controls
from ...workflow.lifecycle.runs import run_stage
from ..render import JSON_OPTION, LOG_FORMAT_OPTION, emit_json, safe_text, tokens
from .fast_controls import approved_text, state_change_text
from .runs_cmds import waiting_line

WAIT_OPTION = typer.Option(False, "--wait", "-w",
                           help="Do the work in this process until the run settles.")
ENGINE_OPTION = typer.Option(None, "--engine", help="Use this engine from now on.")
MODEL_OPTION = typer.Option(None, "--model", help="Use this model from now on.")
step_app = typer.Typer(help="Approve or retry one step of a run.", no_args_is_help=True)


def _jobs_line(jobs: list[Job]) -> str:
    return ", ".join(f"{j.kind.value}{'' if j.step is None else f' {j.step:02d}'}" for j in jobs)


def outcome_line(project: Project, outcome: Outcome) -> str:
    """One line per finished job: what ran and how it ended (the QA verdict when there is one)."""
    job = outcome.job
    what = job.kind.value if job.step is None else f"step {job.step:02d} {job.kind.value}"
    if not outcome.ok:
        retry = "gave up" if outcome.final else "will retry"
        names = project.settings().secret_env_names()
        return f"{what}: failed ({retry}): {safe_text(outcome.error, names)}"
    snap = project.view().run(job.run or "")
    step = snap.step(job.step) if snap and job.step is not None else None
    if job.kind.value == "qa" and step is not None and step.qa is not None:
        return f"{what}: {step.qa.verdict} {step.qa.summary}".rstrip()
    if step is not None:
        return f"{what}: {step.status.value} {step.title}".rstrip()
    if job.kind.value == "plan" and snap is not None and snap.run.planned:
        return f"{what}: planned"  # the commit that closed it may have started step 1 already
    return f"{what}: {run_stage(snap, project.settings()) if snap else 'done'}"


def _printer(project: Project, worker: str,
             log_format: str | None) -> Callable[[Outcome], None]:
    from ...observe.logs import json_line  # why: start-up
    from ...observe.logs import log_format as chosen_format  # why: start-up

    if chosen_format(log_format) == "text":
        return lambda o: typer.echo(outcome_line(project, o))

    def as_json(o: Outcome) -> None:
        snap = project.view().run(o.job.run or "")
        level = "info" if o.ok else ("error" if o.final else "warning")
        typer.echo(json_line(outcome_line(project, o), level, project=project.root.name,
                             run=snap.run.id if snap else o.job.run, step=o.job.step,
                             job=o.job.id, attempt=o.job.attempts, worker=worker,
                             kind=o.job.kind.value, ok=o.ok))

    return as_json


def _finish(project: Project, run: str, wait: bool, json_: bool, jobs: list[Job],
            all_steps: bool | None = None, settle: bool = False,
            log_format: str | None = None) -> None:
    if not wait:
        if json_:
            emit_json(jobs)
        else:
            typer.echo(f"requested {_jobs_line(jobs)}; `--wait` does it here, or run "
                       "`dflow worker`")
        return
    me = new_worker_id(project.store, "cli")
    printer = None if json_ else _printer(project, me, log_format)
    with interrupts_as_keyboard():
        if settle:
            snap = controls.run_until_settled(project, run, me, all_steps, printer)
        else:
            snap = controls.wait(project, run, me, printer)
    _report(project, snap, json_)
    _trust_wait(project, snap, json_)
    if snap.run.status.value == "failed":
        raise typer.Exit(int(ExitCode.FAILED))
    if snap.run.status.value == "blocked":
        raise typer.Exit(int(ExitCode.WAITING))  # scripts see that a person has to act (0900)


def _trust_wait(project: Project, snap: RunSnapshot, json_: bool) -> None:
    """`--wait` stopped because its jobs wait for `dflow trust` here: say so, and exit as a
    run that waits for a person does (the reconciler words the wait, decision 1510)."""

    found = waiting(snap, project.settings())
    if found is None or found.command != settings_trust.COMMAND:
        return
    if not json_:
        typer.echo(waiting_line(found))
    raise typer.Exit(int(ExitCode.WAITING))


@contextmanager
def interrupts_as_keyboard() -> Iterator[None]:
    """SIGTERM stops `--wait` like Ctrl-C: the agent's group is killed, the claim released."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _report(project: Project, snap: RunSnapshot, json_: bool) -> None:
    if json_:
        emit_json(controls.show_snapshot(project, snap))
        return
    run = snap.run
    line = controls.show_snapshot(project, snap)
    typer.echo(f"{run.id}: {line.stage}, "
               f"{snap.steps_done}/{len(snap.steps)} steps done, {tokens(run.usage.total)} tokens")
    for key, why in run.blocks.items():
        typer.echo(f"blocked by {key}: {why}")
    if line.waiting is not None and not run.blocks:
        typer.echo(waiting_line(line.waiting))


def plan(run: str = typer.Argument(..., help="A run id, number or name."),
         wait: bool = WAIT_OPTION, json_: bool = JSON_OPTION,
         engine: Optional[str] = ENGINE_OPTION, model: Optional[str] = MODEL_OPTION,  # noqa: UP045
         ) -> None:
    """Request the plan of a run (again, after a failed plan).

    Example: dflow plan 0001-add-login --wait --engine claude
    """
    project = open_project()
    controls.set_engine(project, run, engine, model)
    _finish(project, run, wait, json_, [controls.request_plan(project, run)])


def run(
    run: str = typer.Argument(..., help="A run id, number or name."),
    wait: bool = WAIT_OPTION,
    all_: bool = typer.Option(False, "--all", help="Run every remaining step (chained)."),
    step: Optional[int] = typer.Option(None, "--step", min=0, help="Run this step only."),  # noqa: UP045
    json_: bool = JSON_OPTION,
    engine: Optional[str] = ENGINE_OPTION,  # noqa: UP045
    model: Optional[str] = MODEL_OPTION,  # noqa: UP045
    log_format: Optional[str] = LOG_FORMAT_OPTION,  # noqa: UP045
) -> None:
    """Request the next step (or all, per the loop policy); plans first when needed.

    Example: dflow run 0001-add-login --wait --engine codex --model gpt-5
    """
    project = open_project()
    controls.set_engine(project, run, engine, model)
    chain = True if all_ else (False if step is not None else None)
    if step is not None:
        jobs = controls.request_step(project, run, step, all_steps=False)
        _finish(project, run, wait, json_, jobs, log_format=log_format)
        return
    if wait:
        _finish(project, run, True, json_, [], all_steps=chain, settle=True,
                log_format=log_format)
        return
    _finish(project, run, False, json_, controls.request_next(project, run, chain))


def qa(run: str = typer.Argument(..., help="A run id, number or name."),
       step: Optional[int] = typer.Argument(None, help="Step number (default: all awaiting QA)."),  # noqa: UP045
       wait: bool = WAIT_OPTION, json_: bool = JSON_OPTION) -> None:
    """Request QA of a step, or of every step awaiting it.

    Example: dflow qa 0001-add-login 2 --wait
    """
    project = open_project()
    _finish(project, run, wait, json_, controls.request_qa(project, run, step))


@step_app.command("approve")
def step_approve(run: str = typer.Argument(..., help="A run id, number or name."),
                 step: int = typer.Argument(..., help="Step number."),
                 json_: bool = JSON_OPTION) -> None:
    """Mark a step completed by hand, whatever QA said.

    Example: dflow step approve 0001-add-login 2
    """
    project = open_project()
    snap = controls.approve_step(project, run, step)
    typer.echo(approved_text(project, snap, step, json_), nl=False)  # as the fast path prints


@step_app.command("retry")
def step_retry(run: str = typer.Argument(..., help="A run id, number or name."),
               step: int = typer.Argument(..., help="Step number."),
               clean: bool = typer.Option(
                   False, "--clean", help="First set aside every uncommitted change in the "
                   "run's worktree (kept in `git stash`)."),
               wait: bool = WAIT_OPTION, json_: bool = JSON_OPTION,
               engine: Optional[str] = typer.Option(  # noqa: UP045
                   None, "--engine", help="Use this engine for this attempt."),
               model: Optional[str] = typer.Option(  # noqa: UP045
                   None, "--model", help="Use this model for this attempt.")) -> None:
    """Run a failed or blocked step again (its QA findings go into the prompt).

    Example: dflow step retry 0001-add-login 2 --clean --wait --engine claude --model sonnet
    """
    project = open_project()
    jobs = controls.retry_step(project, run, step, clean, engine, model)
    _finish(project, run, wait, json_, jobs)


def _state_change(control: Callable[[Project, str], RunSnapshot], run: str, verb: str,
                  json_: bool) -> None:
    project = open_project()
    snap = control(project, run)
    typer.echo(state_change_text(project, snap, verb, json_), nl=False)  # as the fast path


def pause(run: str = typer.Argument(..., help="A run id, number or name."),
          json_: bool = JSON_OPTION) -> None:
    """Stop starting new work for a run (a job already running finishes).

    Example: dflow pause 0001-add-login
    """
    _state_change(controls.pause, run, "paused", json_)


def resume(run: str = typer.Argument(..., help="A run id, number or name."),
           json_: bool = JSON_OPTION) -> None:
    """Resume a paused run; the work it was waiting for is requested again.

    Example: dflow resume 0001-add-login
    """
    _state_change(controls.resume, run, "resumed", json_)


def cancel(run: str = typer.Argument(..., help="A run id, number or name."),
           reason: str = typer.Option("", "--reason", help="Why (kept in the event)."),
           json_: bool = JSON_OPTION) -> None:
    """Cancel a run for good, or abandon one ready to land; its branch and worktree stay.

    `dflow clean RUN` then removes them (a branch with commits found nowhere else is kept).

    Example: dflow cancel 0001-add-login --reason "not needed"
    """
    _state_change(lambda project, ref: controls.cancel(project, ref, reason), run,
                  "cancelled", json_)


def abandon(run: str = typer.Argument(..., help="A run id, number or name."),
            reason: str = typer.Option("", "--reason", help="Why (kept in the event)."),
            json_: bool = JSON_OPTION) -> None:
    """Abandon a run: another name for `dflow cancel` (a run ready to land too).

    `dflow clean RUN` then removes its worktree and branch.

    Example: dflow abandon 0001-add-login --reason "superseded"
    """
    cancel(run, reason, json_)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    for command in (plan, run, qa, pause, resume, cancel, abandon):
        app.command()(command)
    app.add_typer(step_app, name="step")
