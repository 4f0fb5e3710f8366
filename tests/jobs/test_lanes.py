"""Claim order with parallel steps: one job per worktree (lane), one integrator, runs take
turns."""

from __future__ import annotations

from datetime import UTC, datetime

from deksdenflow.context.project import Project
from deksdenflow.domain.runs.models import Job, JobKind, JobStatus
from deksdenflow.jobs import liveness, queue
from deksdenflow.jobs.claims import OpenJobs, claim_batch, open_in
from deksdenflow.jobs.queue import claimable
from tests.workflow.conftest import configure

NOW = datetime.now(UTC)


def job(n: int, run: str, kind: JobKind = JobKind.EXECUTE, lane: str = "",
        status: JobStatus = JobStatus.REQUESTED) -> Job:
    return Job(id=f"{n:03d}", kind=kind, run=run, status=status,
               payload={"lane": lane} if lane else {})


def ids(jobs: list[Job]) -> list[str]:
    return [j.id for j in claimable(jobs, NOW)]


def test_each_step_lane_runs_beside_the_others_but_one_job_at_a_time() -> None:
    jobs = [job(1, "a", lane="step-02"), job(2, "a", lane="step-03"),
            job(3, "a", JobKind.QA, lane="step-02"), job(4, "a", JobKind.INTEGRATE)]
    assert ids(jobs) == ["001", "002", "004"]
    jobs[0] = job(1, "a", lane="step-02", status=JobStatus.CLAIMED)
    assert ids(jobs) == ["002", "004"]  # step 02's QA waits for its execute


def test_one_integration_at_a_time_over_every_run() -> None:
    jobs = [job(1, "a", JobKind.INTEGRATE, status=JobStatus.CLAIMED),
            job(2, "b", JobKind.INTEGRATE), job(3, "b", lane="step-01")]
    assert ids(jobs) == ["003"]


def test_runs_take_turns() -> None:
    jobs = [job(1, "a", lane="step-01"), job(2, "a", lane="step-02"), job(3, "a", lane="step-03"),
            job(4, "b", lane="step-01")]
    assert ids(jobs) == ["001", "004", "002", "003"]


def test_a_serial_run_keeps_one_job_at_a_time() -> None:
    jobs = [job(1, "a"), job(2, "a", JobKind.QA), job(3, "b")]
    assert ids(jobs) == ["001", "003"]


class _Free:
    """A claim strategy with nothing to hold (the lock is not what this test is about)."""

    def hold(self, job: Job) -> bool:
        return True

    def lease_until(self, job: Job) -> None:
        return None

    def let_go(self, job: Job) -> None:
        return None


def test_max_agents_caps_agent_jobs_on_this_host_over_every_worker(project: Project) -> None:
    configure(project, {"limits.max_agents": 2})
    project.store.transact(lambda tx: [queue.request(tx, kind, run=None)
                                       for kind in [JobKind.EXECUTE] * 3 + [JobKind.NOOP]])
    cache = OpenJobs()

    def claim(worker: str) -> list[str]:
        got = project.store.transact(lambda tx: claim_batch(
            tx, f"{worker}@{liveness.host()}", _Free(), open_in(tx, cache), limit=4))
        return [j.kind.value for j in got]

    assert sorted(claim("w1-c")) == ["execute", "execute", "noop"]
    assert claim("w2-c") == []  # the third agent waits, whichever worker asks
