"""`dflow demo`: init, new, plan, every step and QA in a scratch repository, in seconds."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

from ...context.project import Project
from ...git import runner
from ...jobs.liveness import new_worker_id
from ...jobs.pool import run_pool
from ...jobs.runner import Outcome
from ...jobs.worker import WorkerOptions
from ...reads.gitdir import STATE_REF
from ...wiring import init_project
from ...workflow.lifecycle import controls, demo, runs
from ..render import console, is_plain
from ..runs.runs_cmds import render_status
from ..runs.show_cmds import render_graph
from ..runs.workflow_cmds import outcome_line
from ..team.worker_cmds import print_transition


def _say(text: str) -> None:
    console().print(text, markup=False, highlight=False, soft_wrap=True)


@contextmanager
def _progress(project: Project) -> Iterator[Callable[[Outcome], None]]:
    """Rich progress on a terminal; plain lines in CI, pipes and NO_COLOR."""
    out = console()
    if is_plain() or not out.is_terminal:
        yield lambda o: _say("  " + outcome_line(project, o))
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed} jobs"))
    with Progress(*columns, console=out, transient=True) as bar:
        task = bar.add_task("planning", total=7)  # plan + 3 steps x (execute, QA)

        def advance(outcome: Outcome) -> None:
            bar.console.print("  " + outcome_line(project, outcome), markup=False)
            bar.update(task, advance=1, description="working")

        yield advance


KEEP_OPTION = typer.Option(None, "--keep", help="Make the scratch repository here; keep it.")
PARALLEL_OPTION = typer.Option(
    False, "--parallel", help="Plan a diamond (01, then 02 and 03 at once, then 04) and run it "
    "with two workers, merging each step into the run branch.")


def demo_cmd(keep: Optional[Path] = KEEP_OPTION,  # noqa: UP045
             parallel: bool = PARALLEL_OPTION) -> None:
    """Run a whole protocol with the offline demo engine in a scratch repository.

    Example: dflow demo --keep ./dflow-demo
    """
    started = time.monotonic()
    where = demo.scratch_dir(keep)
    try:
        repo = demo.make_repo(where)
        _say(f"dflow demo in a scratch repository: {repo}")
        completed = _walk_parallel(repo) if parallel else _walk(repo)
    finally:
        if keep is None:
            demo.discard(where)
    tail = f"kept in {repo}" if keep else "scratch repository removed; `--keep DIR` keeps it"
    _say(f"\ndone in {time.monotonic() - started:.1f}s ({tail})")
    if not completed:
        raise typer.Exit(1)


def _walk(repo: Path) -> bool:
    _say("\n$ dflow init --engine demo")
    project, _ = init_project(repo, engine="demo")
    _say(f"initialized {STATE_REF}")
    # --no-plan: `dflow run` below requests the plan itself, already set to go on to the steps.
    _say(f'\n$ dflow new {demo.DEMO_RUN} --task "{demo.DEMO_TASK}" --no-plan')
    snap = runs.create_run(project, demo.DEMO_RUN, demo.DEMO_TASK, plan=False)
    _say(f"created {snap.run.id} on branch {snap.run.branch}, worktree {snap.run.worktree}")
    _say(f"\n$ dflow run {snap.run.id} --wait --all")
    with _progress(project) as report:
        me = new_worker_id(project.store, "demo")
        done = controls.run_until_settled(project, snap.run.id, me, True, report)
    stage = runs.run_stage(done, project.settings())
    _say(f"{done.run.id}: {stage}, {done.steps_done}/{len(done.steps)} steps")
    _say(f"\n$ dflow status {done.run.id}")
    render_status(runs.status(project, done.run.id), single=True)
    _say(f"\n$ git log --oneline {STATE_REF}")
    log = runner.run(repo, "log", "--oneline", STATE_REF).stdout
    _say(log.rstrip())
    return done.run.status.value == "completed"


def _walk_parallel(repo: Path) -> bool:
    _say("\n$ dflow init --engine demo")
    project, _ = init_project(repo, engine="demo")
    _say("\n$ dflow config set plan.parallel true")
    demo.go_parallel(project)
    _say(f'\n$ dflow new {demo.DEMO_RUN} --task "{demo.DEMO_TASK}"')
    snap = runs.create_run(project, demo.DEMO_RUN, demo.DEMO_TASK)
    _say(f"created {snap.run.id} on branch {snap.run.branch}")
    _say("\n$ dflow worker -j 2 --burst")
    run_pool(project, 2, options=WorkerOptions(burst=True), sink=print_transition)
    found = controls.show(project, snap.run.id)
    _say(f"\n$ dflow show {snap.run.id}   (the step graph)")
    render_graph(console(), found)
    _say(f"\n$ git log --graph --oneline {snap.run.branch}")
    log = runner.run(repo, "log", "--graph", "--oneline", snap.run.branch).stdout
    _say(log.rstrip())
    _say(f"{snap.run.id}: {found.run.stage}")
    return str(found.run.status) == "completed"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("demo")(demo_cmd)
