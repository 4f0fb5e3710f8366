"""Claim refs on the remote: one worker of all clones gets a job, a live claim is never taken,
a dead one is taken over once, the holder renews its lease and gives the ref back when done
(decision 1520). Real clones of a real bare remote; no pools, so these stay fast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import JobClaimed
from deksdenflow.domain.runs.models import JobKind, JobStatus
from deksdenflow.sync import claim_refs, leases, service
from tests.conftest import git

from .conftest import Clone
from .test_leases import configure_retry, noop_jobs


def _only_job(project: Project) -> str:
    (job,) = [j for j in project.view().open_jobs() if j.kind == JobKind.NOOP]
    return job.id


def _take(project: Project, job_id: str, worker: str, until: datetime) -> str:
    token = claim_refs.token(project.store, job_id, worker, until)
    assert claim_refs.push(project.store, "origin", {job_id: (token, None)}) == {job_id}
    return token


def _claims_on_remote(project: Project) -> list[str]:
    out = git("ls-remote", "origin", f"{claim_refs.CLAIMS_PREFIX}*", cwd=project.root)
    return [line.split("\t")[1] for line in out.splitlines()]


def test_a_job_whose_claim_ref_another_clone_holds_is_not_claimed(clone: Clone) -> None:
    """The race the old protocol lost: a's claim is not in the state yet, b's view is
    stale; b must still not claim, because the remote already gave the job to a."""
    a = clone("a")
    noop_jobs(a, 1)
    b = clone("b")
    job = _only_job(a)
    _take(a, job, "w-a", datetime.now(UTC) + timedelta(minutes=10))
    assert leases.claim(b, "origin", "remote-b", kinds={JobKind.NOOP}) is None
    assert not [e for e in b.view().root_events() if isinstance(e.data, JobClaimed)]
    # the second create of the same ref is refused by git itself
    again = claim_refs.token(b.store, job, "remote-b", datetime.now(UTC))
    assert claim_refs.push(b.store, "origin", {job: (again, None)}) == set()


def test_a_dead_claim_is_taken_over_by_exactly_one_clone(clone: Clone) -> None:
    a = clone("a")
    noop_jobs(a, 1)
    configure_retry(a)
    job = _only_job(a)
    _take(a, job, "gone-worker", datetime.now(UTC) - timedelta(seconds=1))  # lease ran out
    b, c = clone("b"), clone("c")
    won = leases.claim(b, "origin", "remote-b", kinds={JobKind.NOOP})
    assert won is not None and won.id == job and won.claimed_by == "remote-b"
    assert leases.claim(c, "origin", "remote-c", kinds={JobKind.NOOP}) is None
    holder = claim_refs.holder(c.store, "origin", job)
    assert holder is not None and holder.worker == "remote-b"


def test_the_holder_renews_its_lease_and_an_old_token_cannot_take_it(clone: Clone) -> None:
    a = clone("a")
    noop_jobs(a, 1)
    job = _only_job(a)
    claims = leases.SharedClaims(a, "origin", "w-a", lease_s=60, renew=False)
    old = _take(a, job, "w-a", datetime.now(UTC) + timedelta(seconds=60))
    claims.tokens[job] = old
    before = claim_refs.holder(a.store, "origin", job)
    assert claims.renew({job: old}) == {job}
    after = claim_refs.holder(a.store, "origin", job)
    assert before is not None and after is not None and before.until and after.until
    assert after.until > before.until and after.token == claims.tokens[job] != old
    stale = claim_refs.token(a.store, job, "thief", datetime.now(UTC))
    assert claim_refs.push(a.store, "origin", {job: (stale, old)}) == set()


def test_a_finished_job_gives_its_claim_ref_back(clone: Clone) -> None:
    a = clone("a")
    noop_jobs(a, 2)
    b = clone("b")
    assert leases.work(b, "origin", "remote-b", kinds={JobKind.NOOP}) == 2
    assert _claims_on_remote(b) == []
    service.sync(a)
    assert {j.status for j in a.view().open_jobs() if j.kind == JobKind.NOOP} <= {
        JobStatus.FINISHED}
