"""What a parallel run needs now: every step whose dependencies are merged runs at once (up to
`limits.max_parallel_steps`), QA per step, and one integrator merges finished steps in
dependency order (docs/decisions/1401-step-worktrees-and-branches.md, 1402).

Pure, like the rest of the reconciler: it returns jobs to request, never ones already open.
"""

from __future__ import annotations

from ..config.settings import ProjectSettings
from ..runs import graph
from ..runs.models import JobKind, RunSnapshot, StepRun, StepStatus
from .needs import JobNeed, Needs, wait

STEP_JOBS = frozenset({JobKind.EXECUTE, JobKind.QA})


def integrable(step: StepRun, policy: str) -> bool:
    """Finished and (per the QA policy) reviewed, but not in the run branch yet."""
    if step.integrated:
        return False
    return step.status == StepStatus.COMPLETED or (
        step.status == StepStatus.NEEDS_QA and policy != "each_step")


def lane(snap: RunSnapshot, kind: JobKind, step: int | None) -> str:
    """Which worktree a job of this run works in: its step's own (`step-NN`, runs beside the
    others) or the run's (``: plan, integration, review after the merge)."""
    current = snap.step(step) if step is not None else None
    if not snap.run.parallel or kind not in STEP_JOBS or current is None or current.integrated:
        return ""
    return f"step-{current.index:02d}"


def needs(snap: RunSnapshot, settings: ProjectSettings, mode: str) -> Needs:
    open_jobs = snap.open_jobs
    if any(j.kind not in (*STEP_JOBS, JobKind.INTEGRATE) for j in open_jobs):
        return Needs()  # a fix-CI (or other run-wide) job has the run for now
    busy = {j.step for j in open_jobs if j.kind in STEP_JOBS}
    jobs, waits = _step_jobs(snap, settings, mode, busy)
    if not any(j.kind == JobKind.INTEGRATE for j in open_jobs):
        nxt = _next_to_integrate(snap, settings.qa.policy, busy)
        if nxt is not None:
            jobs.append(JobNeed(JobKind.INTEGRATE, nxt))
    if jobs:
        return Needs(jobs=tuple(jobs))
    if open_jobs:
        return Needs()
    if all(s.integrated for s in snap.steps):
        return _review(snap, mode)
    return waits[0] if waits else Needs()


def _step_jobs(snap: RunSnapshot, settings: ProjectSettings, mode: str,
               busy: set[int | None]) -> tuple[list[JobNeed], list[Needs]]:
    run_id, policy = snap.run.id, settings.qa.policy
    merged = {s.index for s in snap.steps if s.integrated}
    in_flight, credit = len(busy), snap.run.step_credit
    jobs: list[JobNeed] = []
    waits: list[Needs] = []
    for step in snap.steps:
        if step.integrated or step.index in busy or integrable(step, policy):
            continue
        if step.status == StepStatus.NEEDS_QA:
            if mode == "manual":
                waits.append(wait(f"step {step.index:02d} awaits QA (hands-off)",
                                  f"dflow qa {run_id} {step.index}"))
            else:
                jobs.append(JobNeed(JobKind.QA, step.index))
            continue
        if step.status == StepStatus.COMPLETED or not set(step.depends_on) <= merged:
            continue
        if in_flight >= settings.limits.max_parallel_steps:
            continue
        resumed = step.status in (StepStatus.RUNNING, StepStatus.FAILED)
        if mode == "all" or resumed or (mode == "step" and credit > 0):
            jobs.append(JobNeed(JobKind.EXECUTE, step.index))
            in_flight += 1
            credit -= 0 if resumed else 1
        elif mode == "step":
            waits.append(wait(f"one step at a time (loop.mode step); step {step.index:02d} "
                              "can start", f"dflow run {run_id}"))
        else:
            waits.append(wait(f"step {step.index:02d} can start (hands-off)",
                              f"dflow run {run_id}"))
    return jobs, waits


def _next_to_integrate(snap: RunSnapshot, policy: str, busy: set[int | None]) -> int | None:
    """The first finished step in dependency order whose dependencies are merged."""
    merged = {s.index for s in snap.steps if s.integrated}
    deps = {s.index: s.depends_on for s in snap.steps}
    for index in graph.order(deps):
        step = snap.step(index)
        if step is None or index in busy or not integrable(step, policy):
            continue
        if set(step.depends_on) <= merged:
            return index
    return None


def _review(snap: RunSnapshot, mode: str) -> Needs:
    """Every step is merged: what the QA policy `end` still reviews, else done."""
    review = [s.index for s in snap.steps if s.status == StepStatus.NEEDS_QA]
    if not review:
        return Needs(terminal=True)
    if mode == "manual":
        return wait("steps await QA (hands-off)", f"dflow qa {snap.run.id}")
    return Needs(jobs=tuple(JobNeed(JobKind.QA, i) for i in review))
