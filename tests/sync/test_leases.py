"""Remote workers: claims pushed with a lease, lost races retried, expired leases recovered."""

from __future__ import annotations

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import JobFailed
from deksdenflow.domain.runs.models import JobKind
from deksdenflow.jobs import queue
from deksdenflow.store import Tx
from deksdenflow.sync import leases, service
from deksdenflow.workflow.lifecycle.runs import record_run

from .conftest import Clone


def noop_jobs(project: Project, count: int) -> str:
    def body(tx: Tx) -> str:
        uid = record_run(tx, "leased", "t", base="main").run.uid
        for _ in range(count):
            queue.request(tx, JobKind.NOOP, run=None)
        return uid

    uid = project.store.transact(body)
    service.sync(project)
    return uid


def test_a_remote_claim_carries_a_lease_and_reaches_the_remote(clone: Clone) -> None:
    a = clone("a")
    noop_jobs(a, 1)
    b = clone("b")
    job = leases.claim(b, "origin", "remote-b", kinds={JobKind.NOOP}, lease_s=300)
    assert job is not None and job.lease_until is not None
    service.sync(a)
    seen = a.view().open_job(job.id)
    assert seen is not None and seen.claimed_by == "remote-b" and seen.lease_until is not None


def test_a_lost_claim_race_is_a_normal_retry_on_other_work(clone: Clone) -> None:
    a = clone("a")
    noop_jobs(a, 2)
    b = clone("b")
    # a claims the first job locally but has not pushed; b's claim of it wins the remote.
    first = queue.claim(a.store, "local-a", kinds={JobKind.NOOP})
    assert first is not None
    won = leases.claim(b, "origin", "remote-b", kinds={JobKind.NOOP})
    assert won is not None and won.id == first.id
    again = leases.claim(a, "origin", "remote-a", kinds={JobKind.NOOP})
    assert again is not None and again.id != first.id  # the other job, no error


def test_an_expired_lease_makes_the_job_claimable_again(clone: Clone) -> None:
    a = clone("a")
    noop_jobs(a, 1)
    configure_retry(a)
    gone = leases.claim(a, "origin", "gone-worker", kinds={JobKind.NOOP}, lease_s=0.001)
    assert gone is not None
    b = clone("b")
    taken = leases.claim(b, "origin", "remote-b", kinds={JobKind.NOOP})
    assert taken is not None and taken.id == gone.id
    assert (taken.lost, taken.failures) == (1, 0)  # the worker vanished, not the agent failed
    assert "lease of gone-worker ran out" in taken.error


def test_expired_leases_are_lost_attempts_not_agent_failures(clone: Clone) -> None:
    """Remote workers that vanish more often than `retry.max_attempts` do not fail the job:
    each expired lease is charged to `retry.max_lost` (issue 11 item 8)."""
    a = clone("a")
    noop_jobs(a, 1)
    configure_retry(a)
    b = clone("b")
    for i in range(4):  # one more than max_attempts (3)
        gone = leases.claim(b, "origin", f"gone-{i}", kinds={JobKind.NOOP}, lease_s=0.001)
        assert gone is not None, f"expired lease {i} did not make the job claimable again"
    taken = leases.claim(b, "origin", "remote-b", kinds={JobKind.NOOP})
    assert taken is not None and (taken.lost, taken.failures) == (4, 0)
    for event in b.view().root_events():
        if isinstance(event.data, JobFailed):
            assert event.data.lost is True and event.data.final is False


def test_remote_worker_runs_jobs_and_publishes_their_end(clone: Clone) -> None:
    a = clone("a")
    noop_jobs(a, 2)
    b = clone("b")
    outcomes: list[leases.RemoteOutcome] = []
    assert leases.work(b, "origin", "remote-b", kinds={JobKind.NOOP}, sink=outcomes.append) == 2
    assert all(o.ok for o in outcomes)
    service.sync(a)
    assert [j for j in a.view().open_jobs() if j.kind == JobKind.NOOP] == []


def configure_retry(project: Project) -> None:
    def body(tx: Tx) -> None:
        tx.set_project_text(tx.view.project_text() + "\n[retry]\nbackoff_base_s = 0.0\n")

    project.store.transact(body)
    service.sync(project)





def test_dflow_worker_remote_runs_the_jobs_through_the_remote(clone: Clone, cli: object) -> None:
    a = clone("a")
    noop_jobs(a, 1)
    b = clone("b")
    result = cli("worker", "--remote", "origin", "--burst", "-q", "noop", cwd=b.root)  # type: ignore[operator]
    assert result.exit_code == 0, result.output
    assert "1 job(s) run through 'origin'" in result.output
