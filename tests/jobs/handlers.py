"""A test job handler, given to worker processes through DFLOW_JOB_HANDLERS.

It replaces the `noop` kind's handler: it records its start (job id and pid) in
`payload["started"]`, optionally sleeps (the first attempt only, with `sleep_once`),
optionally fails, then appends the job id to `payload["file"]` — the side effect whose
count the tests check. Jobs that name a run step start and finish that step like the
workflow's handlers do.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import StepFailed, StepFinished, StepStarted
from deksdenflow.domain.runs.models import Job, JobKind, StepStatus
from deksdenflow.errors import EngineError
from deksdenflow.store import Tx


def _append(path: str, line: str) -> None:
    # one write() on an O_APPEND file: lines from racing processes never interleave
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


class AppendHandler:
    def run(self, project: Project, job: Job, worker: str) -> Callable[[Tx], None] | None:
        p = job.payload
        if job.run is not None and job.step is not None:
            project.store.transact(
                lambda tx: tx.emit(StepStarted(), run=job.run, step=job.step))
        first = True
        if p.get("started"):  # written once the start is on the ref: tests act on it
            first = not Path(p["started"]).exists() or not Path(p["started"]).read_text()
            _append(p["started"], f"{job.id} {os.getpid()}")
        if p.get("sleep_once") and first:
            time.sleep(float(p["sleep_once"]))
        if p.get("fail"):
            raise EngineError("the test handler was told to fail")
        _append(p["file"], job.id)
        if job.run is None or job.step is None:
            return None
        return lambda tx: tx.emit(StepFinished(next=StepStatus.COMPLETED, summary="appended"),
                                  run=job.run, step=job.step)

    def on_failure(self, tx: Tx, job: Job, error: str, final: bool) -> None:
        if job.run is not None and job.step is not None:
            tx.emit(StepFailed(reason=error, final=final), run=job.run, step=job.step)


HANDLERS = {JobKind.NOOP: AppendHandler()}  # read by the composition root (wiring.py)
