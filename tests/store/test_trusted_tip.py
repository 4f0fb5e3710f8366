"""The trusted tip (store/sharing/trust.py) is rewritten in place: no file is created per commit,
and a reader never believes a value a writer left half-written (docs/decisions/1323)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from deksdenflow.domain.eventlog.payloads import RunNote
from deksdenflow.errors import StateCorrupt
from deksdenflow.store import STATE_REF, Store
from deksdenflow.store.sharing import trust
from deksdenflow.store.sharing.trust import StateUntrusted
from tests.conftest import git
from tests.store.conftest import add_run, commit_file

TIPS = ["a" * 40, "b" * 40]
FLIPPER = """
import os, sys
from pathlib import Path
from deksdenflow.store.sharing import trust
tips = sys.argv[2:]
n = 0
while True:
    trust.remember(Path(sys.argv[1]), tips[n % 2])
    n += 1
"""


def test_a_commit_rewrites_the_trusted_tip_in_place(store: Store) -> None:
    uid = add_run(store, steps=0)
    path = store.data_dir / trust.TRUSTED_FILE
    inode = path.stat().st_ino
    for n in range(3):
        store.transact(lambda tx, n=n: tx.emit(RunNote(text=str(n)), run=uid) and None)
    assert path.stat().st_ino == inode  # the same file: no create and rename per commit
    assert trust.read(store.data_dir) == git("rev-parse", STATE_REF, cwd=store.git_dir)
    assert not [p for p in store.data_dir.iterdir() if p.name.endswith(".tmp")]


def test_a_reader_sees_only_whole_tips_while_another_process_rewrites_it(
        tmp_path: Path) -> None:
    trust.remember(tmp_path, TIPS[0])
    proc = subprocess.Popen([sys.executable, "-c", FLIPPER, str(tmp_path), *TIPS])
    try:
        seen = {trust.read(tmp_path) for _ in range(5000)}
    finally:
        proc.kill()
        proc.wait()
    assert seen <= set(TIPS)


def test_a_record_of_another_length_is_replaced_whole(tmp_path: Path) -> None:
    (tmp_path / trust.TRUSTED_FILE).write_text("c" * 64 + "\n")  # a longer id (sha256)
    trust.remember(tmp_path, TIPS[0])
    assert (tmp_path / trust.TRUSTED_FILE).read_text() == TIPS[0] + "\n"
    assert trust.read(tmp_path) == TIPS[0]


def test_a_symlinked_record_is_replaced_not_written_through(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text(TIPS[1] + "\n")
    (tmp_path / trust.TRUSTED_FILE).symlink_to(target)
    trust.remember(tmp_path, TIPS[0])
    assert target.read_text() == TIPS[1] + "\n"
    assert not (tmp_path / trust.TRUSTED_FILE).is_symlink()
    assert trust.read(tmp_path) == TIPS[0]


def test_a_ref_moved_back_after_in_place_records_is_still_refused(
        store: Store, repo: Path) -> None:
    uid = add_run(store, steps=0)
    old = git("rev-parse", STATE_REF, cwd=repo)
    for n in range(2):
        store.transact(lambda tx, n=n: tx.emit(RunNote(text=str(n)), run=uid) and None)
    tip = git("rev-parse", STATE_REF, cwd=repo)
    git("update-ref", STATE_REF, old, cwd=repo)  # an older dflow state, moved by hand
    with pytest.raises(StateUntrusted, match="does not descend"):
        store.read()
    git("update-ref", STATE_REF, tip, cwd=repo)
    commit_file(repo, "notes.txt", b"hello", author="someone")  # a foreign commit on top
    with pytest.raises(StateUntrusted, match="someone"):
        store.read()


def test_a_record_that_is_no_object_id_counts_as_none(tmp_path: Path) -> None:
    (tmp_path / trust.TRUSTED_FILE).write_bytes(b"zz" * 20 + b"\n")  # a torn disk block, say
    assert trust.read(tmp_path) is None  # the tree is validated whole, nothing crashes


def test_a_record_that_never_reads_the_same_twice_is_an_error_not_nothing_known(
        tmp_path: Path) -> None:
    # A FIFO fed by a writer that never repeats itself stands in for a record that changes
    # under every read: "nothing known" would accept a ref moved back, so it must not be None.
    fifo = tmp_path / trust.TRUSTED_FILE
    os.mkfifo(fifo)
    feeder = subprocess.Popen(
        [sys.executable, "-c", "import sys, itertools\n"
         "for n in itertools.count():\n"
         "    open(sys.argv[1], 'w').write(f'{n:040x}\\n')", str(fifo)])
    try:
        with pytest.raises(StateCorrupt, match="run the command again"):
            trust.read(tmp_path)
    finally:
        feeder.kill()
        feeder.wait()
