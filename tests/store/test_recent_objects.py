"""The objects of the last commits are served from memory, so the next transaction reads its
tip without libgit2 listing the pack folder again (docs/decisions/1324)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import deksdenflow
from deksdenflow.domain.eventlog.payloads import RunNote
from deksdenflow.store import STATE_REF, Store
from deksdenflow.store.plumbing import pack
from tests.conftest import git
from tests.store.conftest import add_run

# pygit2 calls that run libgit2 without the GIL; libgit2 may call a Python object backend
# from inside them. They must run on a Repository of their own (no RecentObjects).
_GIL_FREE = re.compile(r"(?<!os)(?<!ast)\.(walk|merge_trees|merge_commits|ahead_behind|"
                       r"read_tree|checkout\w*|describe|revert\w*|stash\w*)\(")
_OWN_REPOSITORY = {"git/replay.py": "repo = pygit2.Repository(",
                   "store/sharing/trust.py": "pygit2.Repository(repo.path).walk(",
                   "store/sharing/settings_log.py": "repo = pygit2.Repository(repo.path)"}


def test_consecutive_transactions_never_make_libgit2_list_the_pack_folder(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    refreshes: list[int] = []
    monkeypatch.setattr(pack.RecentObjects, "refresh_cb", lambda self: refreshes.append(1))
    uid = add_run(store, steps=0)
    store.read()
    refreshes.clear()
    for n in range(5):
        store.transact(lambda tx, n=n: tx.emit(RunNote(text=str(n)), run=uid) and None)
        assert store.read().tip == git("rev-parse", STATE_REF, cwd=store.git_dir)
    assert refreshes == []  # every tip and tree was found without a rescan


def test_a_commit_of_another_process_is_still_found(store: Store, repo: Path) -> None:
    uid = add_run(store, steps=0)
    other = Store(store.repo.__class__(str(repo)), actor="other@test")
    other.transact(lambda tx: tx.emit(RunNote(text="theirs"), run=uid) and None)
    store.transact(lambda tx: tx.emit(RunNote(text="ours"), run=uid) and None)
    texts = [e.data.text for e in store.read().run_events(uid) if isinstance(e.data, RunNote)]
    assert texts == ["theirs", "ours"]


def test_memory_holds_a_bounded_number_of_commits() -> None:
    recent = pack.RecentObjects()
    for n in range(3 * recent.KEEP_COMMITS):
        recent.remember({bytes([n]) * 20: (3, b"x"), b"\0" * 20: (2, b"")})
    assert len(recent) == recent.KEEP_COMMITS + 1  # one new blob per commit, one shared tree
    recent.remember({b"\1" * 20: (3, b"y" * (recent.MAX_OBJECT_BYTES + 1))})
    with pytest.raises(KeyError):
        recent.read_cb(__import__("pygit2").Oid(raw=b"\1" * 20))


def test_no_gil_free_libgit2_call_runs_on_the_stores_repository() -> None:
    root = Path(deksdenflow.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        text = path.read_text()
        if not _GIL_FREE.search(text):
            continue
        if rel not in _OWN_REPOSITORY or _OWN_REPOSITORY[rel] not in text:
            offenders.append(rel)
    assert offenders == []
