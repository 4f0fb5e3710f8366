"""Liveness without heartbeats: OS file locks in the git dir say which local claims are alive.

A worker takes `<git dir>/deksdenflow/jobs/<job-id>.lock` *before* its claim is committed and
holds it until the job's closing commit is published; the OS drops it when the process dies.
So a job the state ref says is claimed by a worker of this clone, whose lock is free, belongs
to a dead worker. See docs/decisions/0300-job-locks-before-claims.md.
"""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

from ..domain.runs.models import Job, JobStatus
from ..store import Store
from .locks import try_lock, unlock

JOB_LOCKS_DIR = "jobs"


def clone_token(store: Store) -> str:
    """Six hex digits naming this clone's git dir: locks are only meaningful inside it."""
    return hashlib.sha1(str(store.git_dir).encode()).hexdigest()[:6]


def host() -> str:
    return socket.gethostname()


def new_worker_id(store: Store, role: str = "w") -> str:
    """The one worker identity of this process: `<role><pid>-<clone>@<host>`.

    Pool workers (`w`), `run --wait`/`plan --wait` (`cli`) and the console (`console`) all
    claim under it and hold each claimed job's lock, so any dflow process of this clone on
    this host can tell a live claim from a dead one (docs/decisions/0801-one-worker-identity.md)."""
    return f"{role}{os.getpid()}-{clone_token(store)}@{host()}"


def is_local_worker(worker: str | None, store: Store) -> bool:
    """Was this claim made by a lock-holding worker of this clone on this host?"""
    return bool(worker) and str(worker).endswith(f"-{clone_token(store)}@{host()}")


class JobLocks:
    """The job locks this process holds, by job id."""

    def __init__(self, store: Store) -> None:
        self.dir = store.data_dir / JOB_LOCKS_DIR
        self.held: dict[str, int] = {}

    def path(self, job_id: str) -> Path:
        return self.dir / f"{job_id}.lock"

    def hold(self, job_id: str) -> bool:
        """Take the job's lock (True if this process holds it now, also if it already did)."""
        if job_id in self.held:
            return True
        fd = try_lock(self.path(job_id))
        if fd is None:
            return False
        self.held[job_id] = fd
        return True

    def let_go(self, job_id: str) -> None:
        fd = self.held.pop(job_id, None)
        if fd is not None:
            unlock(self.path(job_id), fd)

    def keep_only(self, job_ids: set[str]) -> None:
        for job_id in list(self.held):
            if job_id not in job_ids:
                self.let_go(job_id)

    def is_free(self, job_id: str) -> bool:
        """True when no process holds the job's lock (takes and drops it to find out)."""
        if job_id in self.held:
            return False
        fd = try_lock(self.path(job_id))
        if fd is None:
            return False
        unlock(self.path(job_id), fd)
        return True


def is_abandoned_candidate(job: Job, store: Store) -> bool:
    """A claim this clone can judge by its lock: a worker of this clone (whose claim may also
    carry a lease for other clones, when the state is shared through a remote)."""
    return job.status == JobStatus.CLAIMED and is_local_worker(job.claimed_by, store)

