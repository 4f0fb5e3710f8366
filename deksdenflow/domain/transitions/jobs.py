"""Job transitions: requested -> claimed -> finished / failed (maybe requested again)."""

from __future__ import annotations

from ..eventlog.events import Event
from ..eventlog.payloads import (
    JobCancelled,
    JobClaimed,
    JobEvent,
    JobFailed,
    JobFinished,
    JobReleased,
    JobRequested,
)
from ..runs.models import CLOSED_JOBS_KEPT, Job, JobStatus, RunSnapshot
from .common import NotApplicable


def job_id(event: Event) -> str:
    """The job an event is about: a job.requested event's own id names its job."""
    return event.data.job if isinstance(event.data, JobEvent) else event.id


def apply_job(job: Job | None, event: Event) -> Job:
    """One job transition; raises NotApplicable when the job is not in a fitting state."""
    data = event.data
    if isinstance(data, JobRequested):
        return _requested(job, event, data)
    if not isinstance(data, JobEvent):
        raise NotApplicable(f"{event.type} is not a job event")
    if job is None:
        raise NotApplicable(f"no job {data.job}")
    job = job.model_copy()
    job.updated_at = event.at
    if isinstance(data, JobClaimed):
        _claimed(job, event, data)
    elif isinstance(data, JobCancelled):
        _cancelled(job)
    else:
        _closed(job, data)
    return job


def _requested(job: Job | None, event: Event, d: JobRequested) -> Job:
    if job is not None:
        raise NotApplicable(f"job {job.id} already requested")
    return Job(id=event.id, kind=d.kind, run=event.run, step=event.step,
               not_before=d.not_before, payload=d.payload.as_dict(),
               requested_at=event.at, updated_at=event.at)


def _claimed(job: Job, event: Event, d: JobClaimed) -> None:
    if job.status != JobStatus.REQUESTED:
        who = f" by {job.claimed_by}" if job.claimed_by else ""
        raise NotApplicable(f"job {job.id} is already {job.status.value}{who}")
    job.status = JobStatus.CLAIMED
    job.attempts += 1
    job.claimed_by = d.worker if d.worker is not None else event.actor
    job.claimed_at = event.at
    job.lease_until = d.lease_until


def _cancelled(job: Job) -> None:
    if not job.is_open:
        raise NotApplicable(f"job {job.id} is already {job.status.value}")
    job.status = JobStatus.CANCELLED
    job.claimed_by = None


def _closed(job: Job, d: JobEvent) -> None:
    """job.finished, job.failed or job.released: only by the worker that holds the claim."""
    if job.status != JobStatus.CLAIMED:
        raise NotApplicable(f"job {job.id} is {job.status.value}, not claimed")
    if d.worker is not None and d.worker != job.claimed_by:
        raise NotApplicable(f"job {job.id} is claimed by {job.claimed_by}, not {d.worker}")
    job.claimed_by, job.lease_until = None, None
    if isinstance(d, JobFinished):
        job.status = JobStatus.FINISHED
    elif isinstance(d, JobReleased):
        job.status = JobStatus.REQUESTED
        job.attempts = max(0, job.attempts - 1)
    elif isinstance(d, JobFailed):
        _failed(job, d)
    else:
        raise NotApplicable(f"{type(d).__name__} does not close a job")


def _failed(job: Job, d: JobFailed) -> None:
    if d.lost:
        job.lost += 1  # infrastructure, not the agent: counted apart
    else:
        job.failures += 1
    job.error = d.error
    if d.final:
        job.status = JobStatus.FAILED
    else:
        job.status = JobStatus.REQUESTED
        job.not_before = d.retry_at


def job_event(snap: RunSnapshot, event: Event, d: object) -> None:
    """Any job.* event of a run: the run's copy of the job moves with it."""
    key = job_id(event)
    current = snap.job(key)
    updated = apply_job(current, event)
    if current is None:
        snap.jobs.append(updated)
    else:
        snap.jobs[snap.jobs.index(current)] = updated
    _trim_jobs(snap)


def _trim_jobs(snap: RunSnapshot) -> None:
    closed = [j for j in snap.jobs if not j.is_open]
    if len(closed) > CLOSED_JOBS_KEPT:
        drop = {j.id for j in closed[: len(closed) - CLOSED_JOBS_KEPT]}
        snap.jobs = [j for j in snap.jobs if j.id not in drop]
