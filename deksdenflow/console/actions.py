"""What the console's keys do: the same library calls as the CLI (no textual here).

Each action takes a Project and returns an Outcome (a short message for a notification and
whether jobs were requested); a DflowError passes through untouched so the console shows the
very sentence the CLI would print after `error:`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..ci import pr
from ..context.project import Project
from ..domain.runs.models import RunSnapshot, StepStatus
from ..errors import DflowError
from ..jobs import pool
from ..jobs.workers import WorkerInfo
from ..sync import service as sync_service
from ..workflow.checkouts import cleaning
from ..workflow.delivery import landing
from ..workflow.lifecycle import controls, runs


@dataclass(frozen=True)
class Outcome:
    message: str
    run_uid: str | None = None
    requested_jobs: bool = False


def _snap(project: Project, ref: str) -> RunSnapshot:
    return project.view().find_run(ref)


def new_run(project: Project, name: str, task: str, plan: bool = True) -> Outcome:
    """`dflow new NAME --task TASK [--no-plan]`: branch, worktree, and the plan request."""
    snap = runs.create_run(project, name, task, plan=plan)
    if not plan:
        return Outcome(f"created {snap.run.id}", snap.run.uid)
    return Outcome(f"created {snap.run.id}; planning requested", snap.run.uid, True)


def plan(project: Project, ref: str) -> Outcome:
    snap = _snap(project, ref)
    controls.request_plan(project, snap.run.id)
    return Outcome(f"planning of {snap.run.id} requested", snap.run.uid, True)


def run_steps(project: Project, ref: str, all_steps: bool | None) -> Outcome:
    snap = _snap(project, ref)
    jobs = controls.request_next(project, snap.run.id, all_steps=all_steps)
    what = {True: "all steps", False: "the next step", None: "the run"}[all_steps]
    count = len(jobs) if isinstance(jobs, list) else 1
    return Outcome(f"{snap.run.id}: {what} requested ({count} job(s))", snap.run.uid, True)


def qa(project: Project, ref: str, step: int | None) -> Outcome:
    snap = _snap(project, ref)
    controls.request_qa(project, snap.run.id, step)
    where = f" of step {step:02d}" if step is not None else ""
    return Outcome(f"{snap.run.id}: QA{where} requested", snap.run.uid, True)


def approve(project: Project, ref: str, step: int | None) -> Outcome:
    snap = _snap(project, ref)
    index = step if step is not None else pick_step(snap, APPROVABLE, "approve")
    controls.approve_step(project, snap.run.id, index)
    return Outcome(f"{snap.run.id}: step {index:02d} approved", snap.run.uid)


def retry(project: Project, ref: str, step: int | None) -> Outcome:
    snap = _snap(project, ref)
    index = step if step is not None else pick_step(snap, RETRYABLE, "retry")
    controls.retry_step(project, snap.run.id, index)
    return Outcome(f"{snap.run.id}: step {index:02d} will run again", snap.run.uid, True)


def toggle_pause(project: Project, ref: str) -> Outcome:
    snap = _snap(project, ref)
    if snap.run.paused:
        controls.resume(project, snap.run.id)
        return Outcome(f"{snap.run.id} resumed", snap.run.uid, True)
    controls.pause(project, snap.run.id)
    return Outcome(f"{snap.run.id} paused", snap.run.uid)


def cancel(project: Project, ref: str) -> Outcome:
    snap = _snap(project, ref)
    controls.cancel(project, snap.run.id, reason="cancelled from dflow console")
    return Outcome(f"{snap.run.id} cancelled", snap.run.uid)


def open_pr(project: Project, ref: str) -> Outcome:
    snap = _snap(project, ref)
    url = pr.open_pr(project, snap.run.id)
    return Outcome(f"{snap.run.id}: PR {url}" if url else f"{snap.run.id}: PR requested",
                   snap.run.uid, not url)


def land(project: Project, ref: str) -> Outcome:
    """`dflow land RUN`: the same checks and words as the CLI (a merge commit)."""

    snap = _snap(project, ref)
    done = landing.land(project, snap.run.id)
    pushed = f" and pushed to {done.remote}" if done.pushed else ""
    return Outcome(f"landed {done.run} on {done.base} at {done.commit[:9]}{pushed}",
                   snap.run.uid)


def clean(project: Project, ref: str) -> Outcome:
    """`dflow clean RUN`: its worktree and branch, kept (and said why) as the CLI keeps them."""

    snap = _snap(project, ref)
    (done,) = cleaning.clean(project, [snap]).runs
    gone = [what for what, yes in (("worktree", done.worktree_removed),
                                   ("branch", done.branch_deleted)) if yes]
    said = f"{done.run}: removed {' and '.join(gone)}" if gone else f"{done.run}: nothing removed"
    return Outcome(f"{said}; kept: {done.kept}" if done.kept else said, snap.run.uid)


def sync(project: Project) -> Outcome:
    """`dflow sync`: fetch, merge and push the state ref; the same line the CLI prints."""
    report = sync_service.sync(project)
    pushed = ", pushed" if report.pushed else ""
    line = f"{report.remote}: {report.outcome}{pushed} (state at {str(report.tip)[:12]})"
    notes = [f"renumbered {r.old_id} -> {r.new_id}" for r in report.renumbered]
    notes += [f"completed {run_id}" for run_id in report.completed]
    return Outcome("; ".join([line, *notes]))


APPROVABLE = (StepStatus.NEEDS_QA, StepStatus.BLOCKED, StepStatus.FAILED)
RETRYABLE = (StepStatus.FAILED, StepStatus.BLOCKED, StepStatus.NEEDS_QA)


def pick_step(snap: RunSnapshot, statuses: tuple[StepStatus, ...], verb: str) -> int:
    """The step a run-level key means: the first step in the most pressing status."""
    for status in statuses:
        for step in snap.steps:
            if step.status == status:
                return step.index
    raise DflowError(
        f"{snap.run.id} has no step to {verb}; open the run (enter) to see its steps"
    )


# --- who does the work ----------------------------------------------------------------------


def live_workers(project: Project) -> list[WorkerInfo]:
    """The pool's live workers on this machine."""
    return pool.live_workers(project)


class Stopped(Exception):
    """The console is closing: take no further job."""


def process(project: Project, run_uid: str, worker: str,
            should_stop: Callable[[], bool] = lambda: False) -> None:
    """Do a run's requested jobs in this process (when no worker pool is running).

    Checked after each job: a closing console finishes the job in hand and stops there."""

    def after_each(_: object) -> None:
        if should_stop():
            raise Stopped

    try:
        controls.wait(project, run_uid, worker, on_outcome=after_each)
    except Stopped:
        return
