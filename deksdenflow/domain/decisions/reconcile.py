"""What a run needs now: the one pure decision behind every follow-up job.

`needs(snapshot, settings)` says which jobs the run should have open, or why it waits and
which command moves it. The workflow applies it in the same commit after every transaction
that touches a run (docs/decisions/0800-intent-and-one-reconciler.md); nothing else requests
follow-up work. The invariant it serves: a run that is not terminal has an open job or a
`Waiting` a person can act on.
"""

from __future__ import annotations

import re

from ..config import settings_trust
from ..config.settings import ProjectSettings
from ..runs.models import (
    TERMINAL_RUN_STATUSES,
    JobKind,
    JobStatus,
    RunSnapshot,
    StepRun,
    StepStatus,
)
from . import hints, parallel
from .needs import JobNeed, Needs, Waiting, wait

INTENTS = ("all", "step", "manual")


__all__ = ["JobNeed", "Needs", "Waiting", "intent", "needs", "waiting"]


def intent(snap: RunSnapshot) -> str:
    """The run's intent; a run from before intents existed reads its newest job's payload
    (`chain`/`then`, docs/decisions/0100), and otherwise is driven by hand."""
    if snap.run.intent in INTENTS:
        return snap.run.intent
    for job in sorted(snap.jobs, key=lambda j: j.id, reverse=True):
        if "chain" in job.payload:
            return "all" if job.payload["chain"] else "step"
        if "then" in job.payload:
            then = job.payload["then"]
            return then if then in ("all", "step") else "manual"
    return "manual"


def needs(snap: RunSnapshot, settings: ProjectSettings) -> Needs:
    """The jobs the run needs now, or why it waits."""
    run = snap.run
    if run.status in TERMINAL_RUN_STATUSES:
        return Needs(terminal=True)
    if run.paused:
        return _wait("paused", f"dflow resume {run.id}")
    if run.planned and run.parallel:  # several open jobs: one per runnable step
        return _blocked(snap) or parallel.needs(snap, settings, intent(snap))
    if snap.open_jobs:
        # One job at a time per run for now (one worktree); parallel steps will add the
        # independent steps here instead of returning early.
        return Needs()
    mode = intent(snap)
    if not run.planned:
        return _unplanned(snap, mode)
    review = _review(snap, settings)
    if review is not None:
        return review
    blocked = _blocked(snap)
    if blocked is not None:
        return blocked
    return _steps(snap, settings, mode)


def _review(snap: RunSnapshot, settings: ProjectSettings) -> Needs | None:
    """Changes requested: one fix job with the pending comments (review.fix = auto), until
    review.max_rounds are used; then (or with review.fix off) a person decides (1592)."""
    run = snap.run
    if "review" not in run.blocks or set(run.blocks) - {"review"}:
        return None  # another block (CI, budget, ...) speaks first
    used = run.review_rounds
    if settings.review.fix == "auto" and used < settings.review.max_rounds \
            and run.review_comments:
        return Needs(jobs=(JobNeed(JobKind.FIX_REVIEW),))
    why = run.blocks["review"]
    if settings.review.fix == "auto" and used >= settings.review.max_rounds:
        return _wait(f"blocked by review: {why}; {used} review fixes used "
                     f"(review.max_rounds)", f"fix it by hand and push, or dflow show {run.id}")
    return _wait(f"blocked by review: {why}",
                 "push a fix, or `dflow config set review.fix auto`")


def waiting(snap: RunSnapshot, settings: ProjectSettings) -> Waiting | None:
    """What the run waits for, for status lines: None while it moves or once it is done.
    `settings` are the effective ones the reconciler used: with any others (the defaults,
    say) a run it left waiting can look as if it could go on."""
    result = needs(snap, settings)
    if result.jobs:
        return Waiting(reason="no job is open although the run could go on (a dflow bug)",
                       command=f"dflow doctor --repair (or dflow run {snap.run.id})")
    return result.waiting or trust_wait(snap, settings)


def trust_wait(snap: RunSnapshot, settings: ProjectSettings) -> Waiting | None:
    """This machine's wait: a requested job would use settings nobody here trusted yet
    (docs/decisions/1510). Never part of `needs`: the shared state records the job, and only
    this machine's workers hold back from it."""
    untrusted = settings.untrusted()
    if not untrusted:
        return None
    for job in snap.open_jobs:
        if job.status != JobStatus.REQUESTED:
            continue  # a worker elsewhere already runs it
        key = job_blocker(untrusted, settings, job.kind.value, snap.run.engine or "",
                          str(job.payload.get("engine") or ""))
        if key is not None:
            return Waiting(reason=settings_trust.reason(key), command=settings_trust.COMMAND)
    return None


def job_blocker(untrusted: frozenset[str], settings: ProjectSettings, kind: str,
                run_engine: str = "", chosen: str = "") -> str | None:
    """The untrusted key that holds a job of `kind` back on this machine, or None (the
    workers' claims and the wait shown above ask the same question here)."""
    engines = settings_trust.engines_of(kind, settings.phases, run_engine, chosen)
    return settings_trust.blocker(untrusted, kind, engines)


_wait = wait


def _unplanned(snap: RunSnapshot, mode: str) -> Needs:
    run = snap.run
    if "plan" in run.blocks:
        return _wait(f"planning failed: {run.blocks['plan']}",
                     f"fix the cause, then dflow plan {run.id}")
    if run.blocks:
        return _run_block(snap)
    if mode == "manual":
        return _wait("not planned yet (hands-off)", f"dflow run {run.id}")
    return Needs(jobs=(JobNeed(JobKind.PLAN),))


COMMANDS = {
    "ci": "push a fix, or `dflow config set ci.fix auto`",
}
# The budget's reason ends with the key that sets the limit it hit: `(budget.run.max_tokens)`.
_LIMIT_KEY = re.compile(r"\((budget\.[a-z_.]+)\)$")


def _run_block(snap: RunSnapshot) -> Needs:
    key, why = next(iter(sorted(snap.run.blocks.items())))
    command = COMMANDS.get(key, f"dflow show {snap.run.id}")
    if key == "land":
        command = hints.land_command(snap.run.id)
    if key == "budget":
        found = _LIMIT_KEY.search(why)
        command = (f"dflow config set {found.group(1) if found else 'budget.tokens'} N "
                   "(or budget.mode warn)")
    return _wait(f"blocked by {key}: {why}", command)


def _blocked(snap: RunSnapshot) -> Needs | None:
    if snap.run.blocks:
        return _run_block(snap)
    for step in snap.steps:
        if step.status == StepStatus.BLOCKED or (
            step.status == StepStatus.FAILED and step.final_failure
        ):
            return _wait(f"step {step.index:02d} is {step.status.value}: "
                         f"{step.reason or 'no reason recorded'}",
                         hints.step_command(snap.run.id, step.index, step.reason,
                                            step.attempts))
    return None


def _steps(snap: RunSnapshot, settings: ProjectSettings, mode: str) -> Needs:
    run_id = snap.run.id
    policy = settings.qa.policy
    for step in snap.steps:
        if step.status == StepStatus.COMPLETED:
            continue
        if step.status == StepStatus.NEEDS_QA:
            if policy != "each_step":
                continue  # reviewed at the end (or on demand with `dflow qa`)
            if mode == "manual":
                return _wait(f"step {step.index:02d} awaits QA (hands-off)",
                             f"dflow qa {run_id} {step.index}")
            return Needs(jobs=(JobNeed(JobKind.QA, step.index),))
        return _execute(snap, step, mode)
    review = [s.index for s in snap.steps if s.status == StepStatus.NEEDS_QA]
    if not review:
        return Needs(terminal=True)  # every step completed: the status says so
    if mode == "manual":
        return _wait("steps await QA (hands-off)", f"dflow qa {run_id}")
    return Needs(jobs=tuple(JobNeed(JobKind.QA, i) for i in review))


def _execute(snap: RunSnapshot, step: StepRun, mode: str) -> Needs:
    """A pending, running (its job lost) or retryable step: run it if the intent allows."""
    run_id = snap.run.id
    resumed = step.status in (StepStatus.RUNNING, StepStatus.FAILED)  # its attempt was asked for
    if mode == "all" or resumed or (
        mode == "step" and snap.run.step_credit > 0
    ):
        return Needs(jobs=(JobNeed(JobKind.EXECUTE, step.index),))
    if mode == "step":
        return _wait(f"one step at a time (loop.mode step); step {step.index:02d} is next",
                     f"dflow run {run_id}")
    return _wait(f"step {step.index:02d} is next (hands-off)", f"dflow run {run_id}")
