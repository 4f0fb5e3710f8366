"""A killed worker's leftovers are adopted or removed: the commit it made before its state
commit is adopted by the retry (the job id is a trailer), and its `index.lock` is removed."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from deksdenflow.context.project import Project
from deksdenflow.domain.runs.models import Job, JobKind
from deksdenflow.jobs import queue, recovery
from deksdenflow.workflow.lifecycle import controls
from deksdenflow.workflow.phases import execution
from tests.conftest import git
from tests.workflow.conftest import configure, settle

WORKER = "w1-000000@nowhere"


def _claimed_step(project: Project, new_run) -> tuple[Job, Path]:  # type: ignore[no-untyped-def]
    configure(project, {"loop.mode": "step"})
    snap = new_run()
    controls.wait(project, "1", "w-test")  # the plan only: step mode waits before step 01
    controls.request_next(project, "1")
    job = queue.claim(project.store, WORKER)
    assert job is not None and job.kind == JobKind.EXECUTE
    return job, Path(snap.run.worktree)


def _worker_died(project: Project, job: Job) -> None:
    policy = project.settings().retry
    seen = project.view().find_run("1").job(job.id)
    handler = project.parts.handler(job.kind)
    assert project.store.transact(partial(recovery._fail_abandoned, seen=seen, policy=policy,
                                          handler=handler)) is False


def test_a_retry_adopts_the_commit_a_killed_attempt_made(project: Project, new_run) -> None:
    job, worktree = _claimed_step(project, new_run)
    hook = execution.ExecuteHandler().run(project, job, WORKER)  # the agent ran and committed
    assert hook is not None  # ... and the worker died before its state commit
    tip = git("rev-parse", "HEAD", cwd=worktree)
    assert f"Dflow-Job: {job.id}" in git("log", "-1", "--format=%B", cwd=worktree)
    _worker_died(project, job)
    snap = settle(project, all_steps=False)
    step = snap.steps[0]
    assert step.commit == tip and step.status.value == "completed"
    assert git("rev-parse", "HEAD", cwd=worktree) == tip  # no second commit for the step
    assert "adopted" in step.summary


def test_a_stale_index_lock_of_a_killed_attempt_is_removed(project: Project, new_run) -> None:
    job, worktree = _claimed_step(project, new_run)
    execution.start(project, job)
    lock = Path(git("rev-parse", "--git-path", "index.lock", cwd=worktree))
    lock = lock if lock.is_absolute() else worktree / lock
    lock.write_text("")  # killed during `git add`
    _worker_died(project, job)
    snap = settle(project, all_steps=False)
    assert snap.steps[0].status.value == "completed" and snap.steps[0].commit
    assert not lock.exists()
