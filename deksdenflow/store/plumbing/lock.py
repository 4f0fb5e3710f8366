"""The state lock: an exclusive `flock` on `<git dir>/deksdenflow/state.lock`.

What the `filelock` package did for the store, without its import (~10-15 ms of every
command's start-up, decision 1319): the same lock file, and the same kind of lock, so a
dflow that still takes it through `filelock` and this one exclude each other. The file is
never removed, so every waiter locks the same inode; the OS drops the lock with its process.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from types import TracebackType

_BUSY = frozenset({errno.EACCES, errno.EAGAIN, errno.EWOULDBLOCK})


class Timeout(TimeoutError):
    """The lock was not free within the timeout."""


class StateLock:
    """Exclusive between processes; `timeout` < 0 waits for ever, 0 tries once."""

    def __init__(self, lock_file: str, timeout: float) -> None:
        self.lock_file = lock_file
        self.timeout = timeout
        self._fd: int | None = None

    @property
    def is_locked(self) -> bool:
        return self._fd is not None

    def acquire(self, poll_interval: float = 0.05) -> None:
        """Take the lock, polling every `poll_interval` s; Timeout when it stays held."""
        if self._fd is not None:
            raise RuntimeError(f"{self.lock_file} is already held by this lock")
        deadline = time.monotonic() + self.timeout
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            while not _try_flock(fd):
                if self.timeout >= 0 and time.monotonic() >= deadline:
                    raise Timeout(f"{self.lock_file} is held by another process")
                time.sleep(poll_interval)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in _BUSY:
            return False
        raise
    return True
