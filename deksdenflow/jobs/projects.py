"""One worker process serving several projects' queues in turn (`dflow worker
--all-projects`): round-robin, one job (or one batch of fast jobs) per project per turn, so a
project with a long queue never starves another (docs/decisions/1104-one-pool-many-projects.md).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from types import FrameType

from ..context.project import Project
from .worker import Transition, Worker, WorkerOptions

IDLE_NAP_MAX_S = 0.2


class ProjectsWorker:
    def __init__(self, projects: list[Project], options: WorkerOptions,
                 on_transition: Callable[[Transition], None] | None = None) -> None:
        self.workers = [Worker(p, options, on_transition) for p in projects]
        for w in self.workers:
            w.prefetch = False  # a claim held while serving other projects would wait idle
        self.options = options
        self.turn = 0

    def serve(self) -> int:
        """Work until stopped (or, with `burst`, until no project has work left)."""
        self._install_signals()
        for w in self.workers:
            w.record.open()
            w._log("started", detail=f"pid {os.getpid()} ({len(self.workers)} projects)")
        nap = self.options.poll_s
        try:
            while not self._stopping():
                if self._round():
                    nap = self.options.poll_s
                    continue
                if self.options.burst and all(w.drained() for w in self.workers):
                    break
                time.sleep(nap)
                nap = min(nap * 1.5, IDLE_NAP_MAX_S)
        finally:
            for w in self.workers:
                w._shutdown()
        return sum(w.done_count for w in self.workers)

    def _round(self) -> bool:
        """One turn for each project, starting after the one that started the last round."""
        count = len(self.workers)
        order = [self.workers[(self.turn + i) % count] for i in range(count)]
        self.turn = (self.turn + 1) % count
        worked = False
        for w in order:
            if self._stopping():
                break
            worked = w.work_once() or worked
        return worked

    def _stopping(self) -> bool:
        return any([w._should_stop() for w in self.workers])

    def _install_signals(self) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the pool process owns Ctrl-C
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGALRM, self._on_grace_over)

    def _on_term(self, signum: int, frame: FrameType | None) -> None:
        for w in self.workers:
            w._on_term(signum, frame)

    def _on_grace_over(self, signum: int, frame: FrameType | None) -> None:
        for w in self.workers:
            w._on_grace_over(signum, frame)
