"""Which local workers are alive and what they run: pid files guarded by OS locks.

Each worker process holds `<git dir>/deksdenflow/workers/<worker-id>.lock` for its life and
rewrites `<worker-id>.json` at each job transition. A record whose lock is free belongs to a
dead process and is removed by whoever lists the workers. None of this touches the state ref
but `live_workers` (run names) and `queue_summary` (open jobs), which read it.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ValidationError

from ..domain.plain import WORKERS_DIR
from ..domain.runs.models import Job, JobStatus
from ..store import Store
from .liveness import host
from .locks import reap_if_gone, try_lock, unlock

if TYPE_CHECKING:
    from ..context.project import Project


class WorkerInfo(BaseModel):
    """One live worker process of this clone."""

    worker: str
    pid: int
    host: str
    started: datetime
    job: str | None = None
    kind: str | None = None
    run: str | None = None
    run_id: str | None = None
    step: int | None = None
    since: datetime


def workers_dir(store: Store) -> Path:
    return store.data_dir / WORKERS_DIR


class WorkerRecord:
    """This process's entry in the worker directory."""

    def __init__(self, store: Store, worker: str) -> None:
        self.dir = workers_dir(store)
        self.worker = worker
        self.lock_path = self.dir / f"{worker}.lock"
        self.info_path = self.dir / f"{worker}.json"
        self._fd: int | None = None
        now = datetime.now(UTC)
        self.info = WorkerInfo(worker=worker, pid=os.getpid(), host=host(), started=now, since=now)

    def open(self) -> None:
        self._fd = try_lock(self.lock_path)
        if self._fd is None:
            raise RuntimeError(f"worker id {self.worker} is already in use")
        self._write()

    def busy(self, job: Job) -> None:
        self.info.job, self.info.kind, self.info.run = job.id, job.kind.value, job.run
        self.info.step, self.info.since = job.step, datetime.now(UTC)
        self._write()

    def idle(self) -> None:
        if self.info.job is not None:
            self.info.job = self.info.kind = self.info.run = None
            self.info.step, self.info.since = None, datetime.now(UTC)
            self._write()

    def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.info_path)
        if self._fd is not None:
            unlock(self.lock_path, self._fd)
            self._fd = None

    def _write(self) -> None:
        # write-then-rename: a reader never sees half a record
        tmp = self.info_path.with_suffix(".tmp")
        tmp.write_text(self.info.model_dump_json())
        os.replace(tmp, self.info_path)


def scan(store: Store) -> list[WorkerInfo]:
    """Live workers of this clone, oldest first; records of dead processes are removed."""
    found: list[WorkerInfo] = []
    folder = workers_dir(store)
    if not folder.is_dir():
        return found
    for info_path in sorted(folder.glob("*.json")):
        lock_path = info_path.with_suffix(".lock")
        if reap_if_gone(info_path, lock_path):
            continue
        info = _read(info_path)
        if info is not None:
            found.append(info)
    return sorted(found, key=lambda w: (w.started, w.worker))


def _read(path: Path) -> WorkerInfo | None:
    try:
        return WorkerInfo.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError, ValidationError):
        return None  # removed or being replaced while we looked


def live_workers(project: Project) -> list[WorkerInfo]:
    """The live worker processes of this clone (from their lock files, not the state ref)."""
    found = scan(project.store)
    if found:
        names = {s.run.uid: s.run.id for s in project.view().runs()}
        for info in found:
            info.run_id = names.get(info.run or "")
    return found


class QueueSummary(BaseModel):
    """The open jobs on the state ref, by state."""

    requested: int = 0
    delayed: int = 0  # requested, but waiting out a retry backoff
    claimed: int = 0


def queue_summary(project: Project) -> QueueSummary:
    now, summary = datetime.now(UTC), QueueSummary()
    for job in project.view().open_jobs():
        if job.status == JobStatus.CLAIMED:
            summary.claimed += 1
        else:
            summary.requested += 1
            summary.delayed += bool(job.not_before and job.not_before > now)
    return summary
