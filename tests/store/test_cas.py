"""The write path: compare-and-swap on the ref, re-apply on a lost race, one commit per change."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pygit2
import pytest

from deksdenflow.domain.eventlog import fold
from deksdenflow.domain.eventlog.events import EventType
from deksdenflow.domain.eventlog.payloads import RunNote, StepFinished, payload_of
from deksdenflow.errors import IllegalTransition, LockTimeout
from deksdenflow.store import STATE_REF, Store, Tx
from deksdenflow.store.encoding.layout import artifact_path, run_snapshot_path
from tests.conftest import git
from tests.store.conftest import add_run, commit_file


def _child_commit(store: Store, message: str) -> pygit2.Oid:
    tip = store.repo.get(store.tip())
    assert isinstance(tip, pygit2.Commit)
    return store.write_commit(tip.tree.id, [tip.id], message)


def test_set_target_on_a_stale_reference_raises_old_value_does_not_match(store: Store,
                                                                         repo: Path) -> None:
    """pygit2 1.21's Reference.set_target is a true CAS: the Reference remembers the value it
    was loaded with, and libgit2 refuses to move a ref that has moved since."""
    stale = store.repo.references.get(STATE_REF)
    assert stale is not None
    theirs = _child_commit(store, "another writer")
    git("update-ref", STATE_REF, str(theirs), cwd=repo)
    ours = _child_commit(store, "ours")
    with pytest.raises(pygit2.GitError, match="old reference value does not match"):
        stale.set_target(ours, "dflow")
    assert git("rev-parse", STATE_REF, cwd=repo) == str(theirs)


def test_transact_rereads_and_reapplies_when_the_ref_moved_under_it(store: Store,
                                                                    repo: Path) -> None:
    uid = add_run(store)
    calls: list[str | None] = []
    moved: list[str] = []

    def note(tx: Tx) -> int:
        calls.append(tx.view.tip)
        if len(calls) == 1:  # a writer that ignores our lock moves the ref mid-transaction
            moved.append(commit_file(repo, artifact_path(uid, "note.txt"), b"written elsewhere\n"))
        return tx.emit(RunNote(text="ours"), run=uid).lamport

    lamport = store.transact(note)
    assert calls[1] == moved[0] != calls[0]
    tip = git("rev-parse", STATE_REF, cwd=repo)
    assert git("rev-parse", f"{tip}^", cwd=repo) == moved[0]
    assert git("show", f"{STATE_REF}:{artifact_path(uid, 'note.txt')}",
               cwd=repo) == "written elsewhere"
    snap = store.read().run(uid)
    assert snap is not None and snap.event_count == 3 and snap.last_lamport == lamport


def test_publish_commit_refuses_an_unexpected_tip(store: Store, repo: Path) -> None:
    before = store.tip()
    commit = _child_commit(store, "merge")
    assert store.publish_commit("0" * 40, commit) is False
    assert store.tip() == before
    assert store.publish_commit(before, commit) is True
    assert store.tip() == str(commit)


def test_an_illegal_transition_raises_and_leaves_the_ref_unchanged(store: Store) -> None:
    uid = add_run(store)
    before = store.tip()
    with pytest.raises(IllegalTransition, match="cannot finish step 1: it is pending"):
        store.transact(lambda tx: tx.emit(StepFinished(), run=uid, step=1))
    assert store.tip() == before


def test_a_failing_transaction_function_writes_nothing(store: Store) -> None:
    uid = add_run(store)
    before = store.tip()

    def boom(tx: Tx) -> None:
        tx.emit(RunNote(), run=uid)
        raise RuntimeError("caller changed its mind")

    with pytest.raises(RuntimeError):
        store.transact(boom)
    assert store.tip() == before


def test_every_transaction_is_one_commit_and_the_stored_snapshot_is_a_refold(
        store: Store, repo: Path) -> None:
    """Snapshots are applied incrementally per commit; a full refold of the events on the
    ref must give the same thing, rejected events included."""
    uid = add_run(store, steps=3)
    rng = random.Random(7)
    ops = [EventType.STEP_STARTED, EventType.STEP_FINISHED, EventType.STEP_FAILED,
           EventType.STEP_QA_VERDICT, EventType.STEP_RETRIED, EventType.STEP_APPROVED,
           EventType.RUN_PAUSED, EventType.RUN_RESUMED]
    for _ in range(25):
        batch = [(rng.choice(ops), rng.randint(1, 3)) for _ in range(rng.randint(1, 3))]

        def apply(tx: Tx, batch: list[tuple[EventType, int]] = batch) -> None:
            for type_, step in batch:
                data = {"verdict": rng.choice(["PASS", "FAIL"])} if "qa" in type_ else {}
                tx.emit(payload_of(type_, data), run=uid, step=step, strict=False)

        store.transact(apply)
    view = store.read()
    stored = view.run(uid)
    refold = fold.fold(view.run_events(uid))
    assert stored is not None and refold is not None
    assert stored.model_dump(mode="json") == refold.model_dump(mode="json")
    assert stored.rejected_count > 0  # the random walk did hit illegal transitions
    assert int(git("rev-list", "--count", STATE_REF, cwd=repo)) == 1 + 1 + 25
    blob = git("show", f"{STATE_REF}:{run_snapshot_path(uid)}", cwd=repo)
    assert '"schema_version":1' in blob


def test_a_ref_locked_by_git_for_a_moment_is_waited_out(store: Store, repo: Path) -> None:
    """`git gc --auto` (started by dflow itself) packs refs and holds `<ref>.lock` briefly."""
    uid = add_run(store)
    lock = repo / ".git" / "refs" / "deksdenflow" / "state.lock"
    lock.write_bytes(b"")
    timer = threading.Timer(0.3, lock.unlink)
    timer.start()
    try:
        store.transact(lambda tx: tx.emit(RunNote(), run=uid))
    finally:
        timer.join()
    snap = store.read().run(uid)
    assert snap is not None and snap.event_count == 3


def test_a_stale_ref_lock_is_a_clear_error_and_changes_nothing(
        store: Store, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uid = add_run(store)
    before = store.tip()
    monkeypatch.setenv("DFLOW_REF_LOCK_WAIT", "0.2")
    (repo / ".git" / "refs" / "deksdenflow" / "state.lock").write_bytes(b"")
    with pytest.raises(LockTimeout, match=r"state.lock has been held for 0s; if no git process "
                                          r"is running, delete it"):
        store.transact(lambda tx: tx.emit(RunNote(), run=uid))
    assert store.tip() == before
