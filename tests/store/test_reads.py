"""Reads that look at only part of the state answer what a read of all of it answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deksdenflow.domain.eventlog.events import Event, ordered
from deksdenflow.domain.eventlog.payloads import ProjectSetup, RunCreated, RunNote, RunRenumbered
from deksdenflow.errors import RunNotFound, UsageError
from deksdenflow.store import StateView, Store
from deksdenflow.store.encoding.layout import run_dir, run_snapshot_path
from deksdenflow.store.run_index import NAME, RUN_HEAD
from tests.store.conftest import add_run, commit_file


def _every_event(view: StateView) -> list[Event]:
    found = list(view.root_events())
    for uid in view.run_uids():
        found.extend(view.run_events(uid))
    return ordered(found)


def test_the_newest_events_are_the_tail_of_the_whole_timeline(store: Store) -> None:
    uids = [add_run(store, name) for name in ("a", "b", "c", "d")]
    # Interleave: old runs get new events, a root event lands in between.
    for uid in (uids[0], uids[2], uids[0], uids[3]):
        store.transact(lambda tx, uid=uid: tx.emit(RunNote(text="x"), run=uid) and None)
    store.transact(lambda tx: tx.emit(ProjectSetup(project="p", step="init", status="done"))
                   and None)
    store.transact(lambda tx: tx.emit(RunNote(text="y"), run=uids[1]) and None)
    view = store.read()
    every = _every_event(view)
    for limit in (1, 2, 3, 5, 8, len(every), len(every) + 5):
        assert view.newest_events(limit) == every[-limit:], limit


def test_a_run_is_found_by_id_number_name_branch_and_uid(store: Store) -> None:
    uid = add_run(store, "add-login")
    add_run(store, "7")  # a name that is also a number: run 0002-7
    add_run(store, "add-logout")
    view = store.read()
    for ref in ("0001-add-login", "1", "01", "add-login", uid):
        assert view.find_run(ref).run.uid == uid, ref
    assert view.find_run("0002-7").run.name == "7"
    assert view.find_run("7").run.number == 2  # by name: no run has number 7
    with pytest.raises(RunNotFound, match="did you mean '0001-add-login'"):
        view.find_run("add-logn")


def test_a_ref_naming_two_runs_is_refused(store: Store) -> None:
    add_run(store, "one")
    add_run(store, "1")  # number 2, name "1"; `1` is also run 0001's number
    with pytest.raises(UsageError, match="several protocol runs"):
        store.read().find_run("1")


def test_run_numbers_and_names_read_from_bytes_match_the_validated_snapshots(
        store: Store) -> None:
    # `dflow new` reads every run's number and name from the snapshots' bytes; a name the
    # anchored match cannot take (an escape in it) is validated instead, with the same answer.
    for name in ("add-login", "café", 'say "hi"', "back\\slash", "7"):
        add_run(store, name, steps=0)
    view = store.read()
    validated = {s.run.uid: (s.run.number, s.run.name) for s in view.runs()}
    assert view.run_names() == validated
    assert sorted(validated.values())[-1] == (5, "7")


def test_a_snapshot_this_dflow_writes_gives_its_keys_without_validation(store: Store) -> None:
    # The fast path only pays when what the store writes matches `RUN_HEAD`; a field added
    # before `branch`, or a reordered model, must fail here rather than silently slow `new`.
    uid = store.transact(lambda tx: tx.emit(RunCreated(number=1, name="add-login", task="t",
                                                       branch="0001-add-login")).run)
    assert uid is not None
    store.transact(lambda tx: tx.emit(RunRenumbered(number=7), run=uid) and None)
    blob = store.read().blob(run_snapshot_path(uid))
    assert blob is not None
    head = RUN_HEAD.match(blob)
    assert head is not None
    assert head.groups() == (uid.encode(), b"7", b"add-login", b"0001-add-login")


def test_a_snapshot_in_another_form_is_read_by_validating_it(store: Store) -> None:
    uid = add_run(store, "add-login", steps=0)
    view = store.read()
    data = view.blob(run_snapshot_path(uid))
    assert data is not None
    pretty = json.dumps(json.loads(data), indent=2).encode()  # another writer's layout
    repo = Path(store.workdir or store.git_dir)
    commit_file(repo, run_snapshot_path(uid), pretty)
    again = store.read()
    assert again.blob(run_snapshot_path(uid)) == pretty
    assert again.run_names() == {uid: (1, "add-login")}


def test_a_task_with_quotes_and_escapes_does_not_hide_the_branch(store: Store) -> None:
    task = 'say "branch":"x", then \\ and \n and \u00e9 "'
    uid = store.transact(lambda tx: tx.emit(RunCreated(number=1, name="a", task=task,
                                                       branch="0001-a")).run)
    assert uid is not None
    assert store.read().run_keys() == {uid: (1, "a", "0001-a")}


def _cache_file(store: Store) -> Path:
    return store.git_dir / "deksdenflow" / "cache" / NAME


def test_run_keys_are_kept_by_run_tree_and_never_served_stale(store: Store) -> None:
    uid = add_run(store, "add-login", steps=0)
    assert store.read().find_run("1").run.uid == uid
    assert _cache_file(store).is_file()  # kept for the next command
    store.transact(lambda tx: tx.emit(RunRenumbered(number=7), run=uid) and None)
    view = store.read()  # the run's tree changed: its keys are read again
    assert view.find_run("7").run.uid == uid
    assert view.find_run("0007-add-login").run.uid == uid
    with pytest.raises(RunNotFound):
        view.find_run("1")


def test_the_cache_answers_for_an_unchanged_tree_and_a_damaged_one_is_ignored(
        store: Store) -> None:
    uid = add_run(store, "add-login", steps=0)
    store.read().run_keys()
    text = _cache_file(store).read_text()
    # The cache is what answers for an unchanged run tree (here told a name it never had)...
    _cache_file(store).write_text(text.replace('"add-login"', '"from-cache"'))
    assert store.read().run_keys() == {uid: (1, "from-cache", "")}
    # ...and a damaged one is rebuilt from the snapshots, never trusted.
    for damage in (text[:-5], text.replace(f'"{uid}",1', f'"{uid}","1"'), "junk"):
        _cache_file(store).write_text(damage)
        assert store.read().run_keys() == {uid: (1, "add-login", "")}


def test_a_run_folder_without_its_snapshot_is_no_run_to_find(store: Store) -> None:
    uid = add_run(store, "add-login", steps=0)
    repo = Path(store.workdir or store.git_dir)
    # A stray folder in a run's bucket: no run.json, no run. (The trusted-tip check refuses
    # such a tip before any read; a view of that commit itself still reads it right.)
    stray = uid[:5] + "Z" * 21  # in the same bucket as the run
    view = store.view_at(commit_file(repo, f"{run_dir(stray)}/note.txt", b"not a run"))
    assert set(view.run_keys()) == {uid}
    assert view.find_run("add-login").run.uid == uid
