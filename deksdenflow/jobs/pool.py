"""`dflow worker -j N`: N worker processes under one supervisor, and who is working now.

The supervisor owns the signals: the first SIGINT/SIGTERM asks every worker to stop taking
work and to finish its job within the grace period (then release it); a second one kills them
at once (their jobs are then recovered through their free locks). A worker that dies is
replaced. Workers are separate processes started with `spawn`: each opens its own store.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from ..context.parts import Parts
from ..context.project import Project
from ..domain.runs.models import JobKind
from ..errors import UsageError
from .projects import ProjectsWorker
from .worker import Transition, Worker, WorkerOptions
from .workers import QueueSummary, WorkerInfo, live_workers, queue_summary

__all__ = ["PoolResult", "QueueSummary", "WorkerInfo", "live_workers", "queue_summary", "run_pool"]

KILL_MARGIN_S = 5.0  # after the grace period, how long before a stuck worker is killed
QUICK_CRASH_S = 5.0  # a worker that dies this soon after starting ...
QUICK_CRASHES_MAX = 3  # ... this many times in a row stops the pool

TransitionSink = Callable[[Transition], None]


def _load_handlers(parts: Parts) -> None:
    """Build the job-handler registry now (it is built on first use): a bad
    DFLOW_JOB_HANDLERS module fails the pool, or a worker, as it starts."""
    parts.handler(JobKind.NOOP)


@dataclass
class PoolResult:
    jobs: int = 0
    crashed: int = 0
    interrupted: bool = False
    killed: bool = False
    error: str = ""


def _worker_main(parts: Parts, roots: list[str], options: WorkerOptions,
                 sink: TransitionSink | None,
                 results: multiprocessing.SimpleQueue) -> None:  # type: ignore[type-arg]
    _load_handlers(parts)
    if len(roots) == 1:
        done = Worker(parts.open_project(roots[0]), options, sink).serve()
    else:
        done = ProjectsWorker([parts.open_project(r) for r in roots], options, sink).serve()
    results.put(done)


class _Supervisor:
    def __init__(self, projects: list[Project], size: int, options: WorkerOptions,
                 sink: TransitionSink | None, grace_s: float) -> None:
        self.roots = [str(p.root) for p in projects]
        self.parts = projects[0].parts  # a copy goes to each worker process (spawn)
        self.size = size
        self.options = options
        self.sink = sink
        self.grace_s = grace_s
        self.ctx = multiprocessing.get_context("spawn")
        self.results = self.ctx.SimpleQueue()
        self.procs: list[BaseProcess] = []
        self.started: dict[int | None, float] = {}
        self.quick_crashes = 0
        self.result = PoolResult()
        self.stop_requested_at: float | None = None

    def run(self) -> PoolResult:
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for _ in range(self.size):
                self._start()
            while self.procs:
                self._watch()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        while not self.results.empty():
            self.result.jobs += int(self.results.get())
        return self.result

    def _start(self) -> None:
        proc = self.ctx.Process(target=_worker_main, name="dflow-worker", daemon=False,
                                args=(self.parts, self.roots, self.options, self.sink,
                                      self.results))
        proc.start()
        self.started[proc.pid] = time.monotonic()
        self.procs.append(proc)

    def _watch(self) -> None:
        wait([p.sentinel for p in self.procs], timeout=0.5)
        for proc in [p for p in self.procs if not p.is_alive()]:
            self.procs.remove(proc)
            proc.join()
            lived = time.monotonic() - self.started.pop(proc.pid, 0.0)
            if proc.exitcode != 0:
                self.result.crashed += 1
                self._say(f"worker pid {proc.pid} exited with {proc.exitcode}")
                self._count_crash(lived)
            if self.stop_requested_at is None and (proc.exitcode != 0 or not self.options.burst):
                self._start()  # keep N workers; the new one recovers the dead one's job
        stopping_for = time.monotonic() - (self.stop_requested_at or time.monotonic())
        if self.procs and stopping_for > self.grace_s + KILL_MARGIN_S:
            self._kill_all()

    def _count_crash(self, lived: float) -> None:
        """Workers that die as soon as they start will not do better when restarted."""
        self.quick_crashes = self.quick_crashes + 1 if lived < QUICK_CRASH_S else 0
        if self.quick_crashes >= QUICK_CRASHES_MAX and self.stop_requested_at is None:
            self.result.error = (f"{self.quick_crashes} workers died within {QUICK_CRASH_S:g}s "
                                 "of starting; their errors are above")
            self._on_signal(signal.SIGTERM, None)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT:
            self.result.interrupted = True
        if self.stop_requested_at is not None:
            self._kill_all()
            return
        self.stop_requested_at = time.monotonic()
        self._say(f"stopping: running jobs get {self.grace_s:g}s to finish (again: stop now)")
        for proc in self.procs:
            if proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)

    def _kill_all(self) -> None:
        self.result.killed = True
        for proc in self.procs:
            if proc.pid is not None and proc.is_alive():
                os.kill(proc.pid, signal.SIGKILL)

    def _say(self, text: str) -> None:
        if self.sink is not None:
            self.sink(Transition(at=datetime.now(UTC), worker="pool", event="pool", detail=text))


def run_pool(
    project: Project | list[Project],
    size: int | None = None,
    *,
    options: WorkerOptions | None = None,
    sink: TransitionSink | None = None,
) -> PoolResult:
    """Run `size` workers (default: the CPU count) until stopped, or drained with burst.
    Given several projects, every worker serves all of them in turn."""
    projects = project if isinstance(project, list) else [project]
    if not projects:
        raise UsageError("no projects to serve; `dflow projects add PATH|URL` registers one")
    size = size or os.cpu_count() or 1
    if size < 1:
        raise UsageError("-j must be at least 1")
    _load_handlers(projects[0].parts)  # fail here, with a clear message, not in every worker
    options = options or WorkerOptions()
    options.pool_size = size
    options.parent_pid = os.getpid()
    grace = (options.grace_s if options.grace_s is not None
             else max(p.settings().worker.grace_s for p in projects))
    return _Supervisor(projects, size, options, sink, grace).run()

