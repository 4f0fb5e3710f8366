"""The state lock excludes other processes — also a dflow that takes it through the
`filelock` package — and is free again when its holder dies (decision 1319)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import RunNote
from deksdenflow.errors import LockTimeout
from deksdenflow.store.plumbing.lock import StateLock, Timeout
from tests.store.conftest import add_run

_HOLD = """
import sys, time
from filelock import FileLock
lock = FileLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
time.sleep(120)
"""


def _holder(lock_file: Path) -> subprocess.Popen[str]:
    """Another process holding the lock as a dflow built on `filelock` does."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(lock_file)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


def test_a_held_lock_stops_a_write_until_its_holder_is_killed(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    store = project.store
    uid = add_run(store, "a", steps=0)
    before = store.tip()
    holder = _holder(Path(store.lock().lock_file))
    try:
        monkeypatch.setenv("DFLOW_LOCK_TIMEOUT", "0.3")
        with pytest.raises(LockTimeout, match="state.lock for 0s"):
            store.transact(lambda tx: tx.emit(RunNote(text="x"), run=uid) and None)
        assert store.tip() == before
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    store.transact(lambda tx: tx.emit(RunNote(text="x"), run=uid) and None)
    assert store.tip() != before


def test_a_filelock_user_waits_while_we_hold_it(tmp_path: Path) -> None:
    path = tmp_path / "state.lock"
    code = ("import sys\nfrom filelock import FileLock, Timeout\n"
            "try:\n    FileLock(sys.argv[1], timeout=0.2).acquire()\nexcept Timeout:\n"
            "    print('busy')\nelse:\n    print('took it')\n")
    with StateLock(str(path), timeout=1):
        inside = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                                text=True, check=True).stdout
    after = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                           text=True, check=True).stdout
    assert (inside, after) == ("busy\n", "took it\n")


def test_a_second_lock_in_the_same_process_waits_too(tmp_path: Path) -> None:
    path = str(tmp_path / "state.lock")
    first = StateLock(path, timeout=0)
    first.acquire()
    started = time.monotonic()
    with pytest.raises(Timeout):
        StateLock(path, timeout=0.1).acquire(poll_interval=0.01)
    assert time.monotonic() - started >= 0.1
    first.release()
    with StateLock(path, timeout=0):
        assert os.path.exists(path)
