"""Real processes writing one repository at once, and a writer killed mid-write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deksdenflow.domain.eventlog import fold
from deksdenflow.domain.eventlog.events import EventType
from deksdenflow.domain.eventlog.payloads import RunNote
from deksdenflow.store import STATE_REF, Store
from deksdenflow.store.sharing import trust
from tests.conftest import git
from tests.store.conftest import add_run

WRITER = str(Path(__file__).with_name("writer_proc.py"))
PROCESSES = 8
MUTATIONS = 250


def _spawn(repo: Path, uid: str, name: str, count: int,
           artifact: int = 0) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, WRITER, str(repo), uid, name, str(count),
                             str(artifact)], stderr=subprocess.PIPE)


def _fsck(repo: Path) -> str:
    out = subprocess.run(["git", "fsck", "--full", "--no-dangling"], cwd=repo,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout + out.stderr


@pytest.mark.slow
def test_eight_processes_times_250_mutations_lose_nothing(store: Store, repo: Path) -> None:
    uid = add_run(store, steps=0)
    started = time.monotonic()
    procs = [_spawn(repo, uid, f"p{i}", MUTATIONS) for i in range(PROCESSES)]
    errors = [p.communicate()[1].decode() for p in procs]
    elapsed = time.monotonic() - started
    assert [p.returncode for p in procs] == [0] * PROCESSES, errors
    print(f"\n{PROCESSES}x{MUTATIONS} mutations in {elapsed:.1f}s")  # visible with -s

    view = store.read()
    notes = [e for e in view.run_events(uid) if e.type == EventType.RUN_NOTE]
    assert len(notes) == PROCESSES * MUTATIONS
    assert {e.payload(RunNote).text for e in notes} == {
        f"p{i} {n}" for i in range(PROCESSES) for n in range(MUTATIONS)}
    # Every mutation saw the one before it: Lamport times are 1..N with no gaps or repeats.
    lamports = sorted(e.lamport for e in view.run_events(uid))
    assert lamports == list(range(1, PROCESSES * MUTATIONS + 2))
    snap = view.run(uid)
    assert snap is not None and snap.event_count == PROCESSES * MUTATIONS + 1
    assert int(git("rev-list", "--count", STATE_REF, cwd=repo)) == PROCESSES * MUTATIONS + 2
    _fsck(repo)


@pytest.mark.slow
def test_a_writer_killed_with_sigkill_leaves_a_valid_ref(store: Store, repo: Path) -> None:
    uid = add_run(store, steps=0)
    for round_ in range(3):
        before = int(git("rev-list", "--count", STATE_REF, cwd=repo))
        proc = _spawn(repo, uid, f"k{round_}", -1, artifact=64 * 1024)
        while int(git("rev-list", "--count", STATE_REF, cwd=repo)) < before + 5 + round_ * 7:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL

        assert "missing" not in _fsck(repo)
        # The trusted tip (rewritten in place) is a whole id: the tip, or the commit before
        # it when the kill fell between the ref's move and the record.
        known = trust.read(store.data_dir)
        tip = git("rev-parse", STATE_REF, cwd=repo)
        assert known in (tip, git("rev-parse", f"{STATE_REF}~1", cwd=repo))
        view = store.read()
        assert git("cat-file", "-t", STATE_REF, cwd=repo) == "commit"
        events = view.run_events(uid)
        snap = view.run(uid)
        refold = fold.fold(events)
        # The snapshot and the events it was built from are in the same commit, always.
        assert snap is not None and refold is not None
        assert snap.model_dump(mode="json") == refold.model_dump(mode="json")
        # The kernel dropped the dead writer's lock: the next write goes through.
        after = RunNote(text=f"after {round_}")
        store.transact(lambda tx, after=after: tx.emit(after, run=uid))
