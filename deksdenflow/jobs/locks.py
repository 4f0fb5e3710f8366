"""OS file locks held for a process's life (standard library only: `dflow workers` reads them
before Typer or the job machinery is imported, docs/decisions/1310)."""

from __future__ import annotations

import contextlib
import fcntl
import os


def try_lock(path: str | os.PathLike[str]) -> int | None:
    """An exclusive, non-blocking flock on `path`; the fd, or None when someone holds it.

    Lock files are unlinked on release, so after locking we check that the path still names
    the inode we locked; otherwise a late opener could "hold" an orphaned file."""
    os.makedirs(os.path.dirname(os.fspath(path)), exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def unlock(path: str | os.PathLike[str], fd: int) -> None:
    """Remove the lock file, then drop the lock (in that order: see `try_lock`)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    os.close(fd)


def reap_if_gone(info_path: str | os.PathLike[str], lock_path: str | os.PathLike[str]) -> bool:
    """True (and the record removed) when nobody holds `lock_path`: its process is gone."""
    fd = try_lock(lock_path)
    if fd is None:
        return False
    with contextlib.suppress(FileNotFoundError):
        os.unlink(info_path)
    unlock(lock_path, fd)
    return True
