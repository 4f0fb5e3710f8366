"""The invariant, property-tested over the real store in a temp repo: whatever the controls,
job outcomes and recoveries, in any order, a run that is not terminal is live (an open job)
or waits with a reason and a command (docs/decisions/0800-intent-and-one-reconciler.md).

Job outcomes are recorded with the events the handlers record (no agent runs), failures and
crashes through the real failure and recovery paths; `RECONCILER_EXAMPLES` raises the count.
"""

from __future__ import annotations

import os
from contextlib import suppress
from functools import partial
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import deksdenflow.workflow.handlers  # noqa: F401  (registers the job handlers)
from deksdenflow.context.project import Project
from deksdenflow.domain.decisions.reconcile import needs
from deksdenflow.domain.eventlog.payloads import (
    PlannedStep,
    RunCiReported,
    RunPlanned,
    StepConflicted,
    StepFinished,
    StepIntegrated,
    StepQaVerdict,
    StepRetried,
)
from deksdenflow.domain.runs.models import Job, JobKind, JobStatus, Usage
from deksdenflow.errors import DflowError
from deksdenflow.jobs import queue, recovery
from deksdenflow.store import Tx
from deksdenflow.wiring import init_project
from deksdenflow.workflow.lifecycle import controls, runs, scheduling
from tests.conftest import make_repo
from tests.workflow.conftest import configure

EXAMPLES = int(os.environ.get("RECONCILER_EXAMPLES", "12"))
STEPS = 30
FIGURES: dict[str, int] = {"sequences": 0, "steps": 0, "longest": 0}
WORKER = "w-prop@host"


def _claimed(project: Project) -> list[Job]:
    return [j for j in project.view().open_jobs() if j.status == JobStatus.CLAIMED]


class Runs(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._dir = TemporaryDirectory()
        repo = make_repo(Path(self._dir.name) / "repo")
        self.project, _ = init_project(repo, engine="demo")
        self.names: list[str] = []
        self.length = 0
        FIGURES["sequences"] += 1

    def teardown(self) -> None:
        FIGURES["longest"] = max(FIGURES["longest"], self.length)
        self._dir.cleanup()

    def _act(self, fn: Any, *args: Any) -> None:
        self.length += 1
        FIGURES["steps"] += 1
        with suppress(DflowError):  # a control refused says why; the state is unchanged
            fn(self.project, *args)

    # --- controls ---------------------------------------------------------------------

    @precondition(lambda self: len(self.names) < 2)
    @rule(plan=st.booleans(), mode=st.sampled_from(["all", "step"]), parallel=st.booleans())
    def new(self, plan: bool, mode: str, parallel: bool) -> None:
        configure(self.project, {"loop.mode": mode, "plan.parallel": str(parallel).lower()})
        name = f"r{len(self.names)}"
        self._act(partial(runs.create_run, plan=plan), name, "a task")
        self.names.append(name)

    @precondition(lambda self: self.names)
    @rule(i=st.integers(0, 1), all_steps=st.sampled_from([None, True, False]))
    def run(self, i: int, all_steps: bool | None) -> None:
        self._act(controls.request_next, self.names[i % len(self.names)], all_steps)

    @precondition(lambda self: self.names)
    @rule(i=st.integers(0, 1), what=st.sampled_from(["pause", "resume", "cancel", "plan"]))
    def control(self, i: int, what: str) -> None:
        fn = {"pause": controls.pause, "resume": controls.resume, "cancel": controls.cancel,
              "plan": controls.request_plan}[what]
        self._act(fn, self.names[i % len(self.names)])

    @precondition(lambda self: self.names)
    @rule(i=st.integers(0, 1), step=st.integers(1, 2),
          what=st.sampled_from(["approve", "retry", "qa"]))
    def step_control(self, i: int, step: int, what: str) -> None:
        fn = {"approve": controls.approve_step, "retry": controls.retry_step,
              "qa": controls.request_qa}[what]
        self._act(fn, self.names[i % len(self.names)], step)

    @precondition(lambda self: self.names)
    @rule(i=st.integers(0, 1), status=st.sampled_from(["success", "failure"]))
    def ci(self, i: int, status: str) -> None:
        def body(project: Project, ref: str) -> None:
            project.store.transact(lambda tx: tx.emit(
                RunCiReported(status=status, url="https://ci/1"), run=tx.find_run(ref).run.uid))
        self._act(body, self.names[i % len(self.names)])

    @rule(tokens=st.sampled_from([0, 50, 100_000]), mode=st.sampled_from(["strict", "warn"]))
    def budget(self, tokens: int, mode: str) -> None:
        self._act(configure, {"budget.tokens": tokens, "budget.mode": mode})

    @rule(policy=st.sampled_from(["each_step", "end"]), auto_retry=st.integers(0, 1))
    def qa_policy(self, policy: str, auto_retry: int) -> None:
        self._act(configure, {"qa.policy": policy, "qa.auto_retry": auto_retry})

    # --- job outcomes -----------------------------------------------------------------

    @rule()
    def claim(self) -> None:
        self._act(lambda p: queue.claim(p.store, WORKER))

    @precondition(lambda self: self.names)
    @rule(verdict=st.sampled_from(["PASS", "FAIL"]), steps=st.integers(1, 2))
    def job_passes(self, verdict: str, steps: int) -> None:
        for job in _claimed(self.project)[:1]:
            self._act(_pass, job, verdict, steps)

    @precondition(lambda self: self.names)
    @rule(final=st.booleans(), error=st.sampled_from(["exit 1", "timed out"]))
    def job_fails(self, final: bool, error: str) -> None:
        for job in _claimed(self.project)[:1]:
            self._act(_fail, job, error, final)

    @precondition(lambda self: self.names)
    @rule()
    def worker_dies(self) -> None:
        """The recovery of a dead worker's claim (the real path, without the lock check)."""
        for job in _claimed(self.project)[:1]:
            self._act(_recover, job)

    # --- the invariant ----------------------------------------------------------------

    @invariant()
    def every_run_moves_or_says_why(self) -> None:
        view = self.project.view()
        settings_ = self.project.settings(view)
        for snap in view.runs():
            result = needs(snap, settings_)
            if result.terminal or snap.open_jobs:
                continue
            assert not result.jobs, f"{snap.run.id} needs {result.jobs} but has no open job"
            assert result.waiting is not None and result.waiting.command, snap.run.id


def _pass(project: Project, job: Job, verdict: str, steps: int) -> None:
    """What the job's handler records when its agent succeeds."""
    if job.kind == JobKind.EXECUTE:
        started = _start(project, job)
        if not started:
            return project.store.transact(lambda tx: queue.record_finish(tx, job, WORKER))

    def body(tx: Tx) -> None:
        snap = tx.run(job.run or "")
        settings_ = project.settings(tx.view)
        step = snap.step(job.step) if job.step is not None else None
        if snap.run.cancelled:
            pass
        elif job.kind == JobKind.PLAN and not snap.run.planned:
            independent = [] if settings_.plan.parallel else None
            tx.emit(RunPlanned(steps=[PlannedStep(index=i, title=f"s{i}", file=f"0{i}-s.md",
                                                  depends_on=independent)
                                      for i in range(1, steps + 1)],
                               usage=Usage(input_tokens=40), parallel=settings_.plan.parallel),
                    run=snap.run.uid)
        elif job.kind == JobKind.INTEGRATE and step is not None and not step.integrated and \
                step.status.value in ("completed", "needs_qa"):
            if verdict == "PASS":  # a clean merge; FAIL plays a conflict
                tx.emit(StepIntegrated(commit="0" * 40), run=snap.run.uid, step=step.index)
            else:
                tx.emit(StepConflicted(files=["f.txt"]), run=snap.run.uid, step=step.index)
        elif job.kind == JobKind.EXECUTE and step is not None and step.status.value == "running":
            tx.emit(StepFinished(next=scheduling.finished_next(settings_),
                                 usage=Usage(input_tokens=40)), run=snap.run.uid, step=step.index)
        elif job.kind == JobKind.QA and step is not None and step.status.value in (
                "needs_qa", "completed", "blocked"):
            tx.emit(StepQaVerdict(verdict=verdict, summary="looked"), run=snap.run.uid,
                    step=step.index)
            if verdict == "FAIL" and step.attempts <= settings_.qa.auto_retry:
                tx.emit(StepRetried(), run=snap.run.uid, step=step.index)
        queue.record_finish(tx, job, WORKER)

    project.store.transact(body)


def _recover(project: Project, job: Job) -> None:
    policy = project.settings().retry
    project.store.transact(partial(recovery._fail_abandoned, seen=job, policy=policy,
                                   handler=project.parts.handler(job.kind)))


def _start(project: Project, job: Job) -> bool:
    from deksdenflow.workflow.phases import execution

    return execution.start(project, job) is not None


def _fail(project: Project, job: Job, error: str, final: bool) -> None:
    policy = project.settings().retry
    if final:
        policy = policy.model_copy(update={"max_attempts": 1})
    handler = project.parts.handler(job.kind)
    assert handler is not None
    if job.kind == JobKind.EXECUTE:
        _start(project, job)
    project.store.transact(lambda tx: queue.record_failure(
        tx, job, WORKER, error, policy, lambda t, f: handler.on_failure(t, job, error, f)))


Runs.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
    suppress_health_check=list(HealthCheck),
)
TestReconcilerInvariant = Runs.TestCase


def teardown_module() -> None:
    print(f"\nreconciler property test: {FIGURES['sequences']} sequences, "
          f"{FIGURES['steps']} steps, longest {FIGURES['longest']}")
