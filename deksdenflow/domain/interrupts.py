"""Stopping the work of another thread: the console's in-process job when the console quits.

Signals reach only the main thread, and the console runs jobs in a thread. The console binds an
`Interrupt` around that work (a context variable, as for correlation ids); the process runner
registers each agent it starts with it, and `Interrupt.fire()` (from the UI thread) kills
them and makes the runner raise `Interrupted` — not a DflowError, so no failure is recorded:
the job is given back (docs/decisions/0832-console-quit-kills-the-agent.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Kill = Callable[[], None]


class Interrupted(BaseException):  # noqa: N818 - like KeyboardInterrupt: a stop, not an error
    """The work was interrupted on purpose (the console quit); nothing of it is recorded."""


class Interrupt:
    """What one thread's work must stop on; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kills: dict[int, Kill] = {}
        self.fired = False

    def watch(self, key: int, kill: Kill) -> bool:
        """Call `kill` when fired; False (and `kill` not kept) when it already was."""
        with self._lock:
            if self.fired:
                return False
            self._kills[key] = kill
            return True

    def forget(self, key: int) -> None:
        with self._lock:
            self._kills.pop(key, None)

    def fire(self) -> None:
        """Stop the work: kill what is watched now, and what starts later at once."""
        with self._lock:
            self.fired = True
            kills = list(self._kills.values())
            self._kills.clear()
        for kill in kills:
            kill()


_CURRENT: ContextVar[Interrupt | None] = ContextVar("dflow_interrupt", default=None)


@contextmanager
def bound(interrupt: Interrupt) -> Iterator[Interrupt]:
    """While the block runs (in this thread), agents started here obey `interrupt`."""
    token = _CURRENT.set(interrupt)
    try:
        yield interrupt
    finally:
        _CURRENT.reset(token)


def current() -> Interrupt | None:
    return _CURRENT.get()
