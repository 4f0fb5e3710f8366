"""The integration queue of a parallel run: one integrator merges a finished step's branch into
the run branch, one merge commit per step, in dependency order
(docs/decisions/1402-the-integration-queue.md).

The integrator is an `integrate` job: the reconciler keeps at most one open per run, and a job
is claimed by exactly one worker (through the state ref, by lock or lease), so one integrator
works on a run branch at a time. The merge happens in the run's worktree, which nothing else
writes once the run is planned. A clean merge is recorded as `step.integrated` and the step's
worktree and branch go; a conflict is aborted (the run branch never holds a half merge) and
recorded as `step.conflicted`, which sends the step back to its agent as a resolve attempt.

A worker killed mid-merge leaves at most an unfinished merge in the run worktree: the next
attempt aborts it and starts again, or adopts the merge commit it finds (its `Dflow-Job`
trailer names the job) when only the state commit was missing.
"""

from __future__ import annotations

from collections.abc import Callable

from ...context.project import Project
from ...domain.eventlog.payloads import StepBlocked, StepConflicted, StepIntegrated
from ...domain.runs.models import Job, RunSnapshot, StepRun, StepStatus
from ...errors import GitOperationError
from ...git import runner
from ...git.worktree import Worktree, check
from ...store import Tx
from ..checkouts import placement, step_worktrees
from ..phases import agents, changes

INTEGRABLE = {StepStatus.COMPLETED, StepStatus.NEEDS_QA}


def abort_unfinished(worktree: Worktree) -> bool:
    """Undo a merge a killed integrator left in progress; True if there was one."""
    check(worktree)  # before any git command: the `.git` an agent may have changed
    changes.clear_stale_index_lock(worktree)
    merging = runner.run(worktree, "rev-parse", "-q", "--verify", "MERGE_HEAD", check=False)
    if merging.returncode != 0:
        return False
    runner.run(worktree, "merge", "--abort", check=False)
    if changes.dirty_files(worktree):  # the abort could not restore everything: HEAD is truth
        runner.run(worktree, "reset", "-q", "--hard", "HEAD")
    return True


def message(snap: RunSnapshot, step: StepRun, job: Job) -> str:
    return (f"Merge step {step.index:02d} of {snap.run.id}: {step.title or 'step'} "
            f"[protocol-{snap.run.number:04d}/{step.index:02d}]\n\n"
            f"{changes.JOB_TRAILER}: {job.id}")


def conflicted_files(worktree: Worktree) -> list[str]:
    out = runner.run(worktree, "diff", "--name-only", "--diff-filter=U", "-z").stdout
    return sorted(p for p in out.split("\0") if p)


def other_side(snap: RunSnapshot, worktree: Worktree, step_tip: str, files: list[str]) -> list[int]:
    """The steps merged into the run branch since this step's branch was cut that changed
    one of `files`: the other side of the conflict."""
    base = runner.run(worktree, "merge-base", "HEAD", step_tip, check=False).stdout.strip()
    if not base:
        return []
    merges = runner.run(worktree, "log", "--first-parent", "--format=%H", f"{base}..HEAD",
                        "--", *files).stdout.split()
    return sorted(s.index for s in snap.steps if s.integrated in merges)


def merge(project: Project, snap: RunSnapshot, step: StepRun, job: Job,
          worktree: Worktree) -> tuple[str | None, list[str]]:
    """Merge the step's branch into the run branch: (merge commit, []) or (None, conflicts)."""
    tip = step_worktrees.tip(project.root, snap, step.index)
    if tip is None:
        raise GitOperationError(
            f"the branch {step_worktrees.branch(snap, step.index)} of step {step.index:02d} is "
            f"gone, so its work cannot be merged; `dflow step retry {snap.run.id} "
            f"{step.index}` runs the step again")
    done = runner.run(worktree, *changes.identity(worktree), "merge", "--no-ff", "--no-edit",
                      "-m", message(snap, step, job), tip, check=False)
    if done.returncode == 0:
        return changes.head(worktree), []
    files = conflicted_files(worktree)
    abort_unfinished(worktree)
    if not files:  # not a conflict: git refused for another reason
        raise GitOperationError(f"git could not merge step {step.index:02d} into "
                                f"{snap.run.branch}: {runner.detail(done)}")
    return None, files


def _record(tx: Tx, snap: RunSnapshot, step: StepRun, commit: str | None,
            files: list[str], with_steps: list[int]) -> None:
    uid = snap.run.uid
    if tx.run(uid).run.cancelled:
        return
    if commit is not None:
        tx.emit(StepIntegrated(commit=commit, branch=step_worktrees.branch(snap, step.index)),
                run=uid, step=step.index)
    else:
        tx.emit(StepConflicted(files=files[:100], against=with_steps), run=uid,
                step=step.index)


class IntegrateHandler:
    """JobKind.INTEGRATE: merge one finished step of a parallel run into its run branch."""

    def run(self, project: Project, job: Job, worker: str) -> Callable[[Tx], None] | None:
        snap = project.view().run(job.run or "")
        step = snap.step(job.step if job.step is not None else -1) if snap else None
        if snap is None or step is None or snap.run.cancelled or step.integrated \
                or step.status not in INTEGRABLE:
            return None
        snap = placement.prepare(project, snap)  # this clone's worktree at the recorded work
        worktree = agents.worktree_of(project, snap)
        abort_unfinished(worktree)
        adopted = changes.adoptable(worktree, job.id)
        if adopted is not None:
            step_worktrees.remove(project.root, snap, step.index)
            return lambda tx: _record(tx, snap, step, adopted, [], [])
        changes.prepare(worktree, job, snap.run.id)
        tip = step_worktrees.tip(project.root, snap, step.index) or ""
        commit, files = merge(project, snap, step, job, worktree)
        if commit is not None:
            step_worktrees.remove(project.root, snap, step.index)
            return lambda tx: _record(tx, snap, step, commit, [], [])
        with_steps = other_side(snap, worktree, tip, files)
        return lambda tx: _record(tx, snap, step, None, files, with_steps)

    def on_failure(self, tx: Tx, job: Job, error: str, final: bool) -> None:
        if job.run is None or job.step is None or not final:
            return
        step = tx.run(job.run).step(job.step)
        if step is not None and step.status in INTEGRABLE and not step.integrated:
            tx.emit(StepBlocked(reason=f"could not merge into the run branch: {error}"),
                    run=job.run, step=job.step)
