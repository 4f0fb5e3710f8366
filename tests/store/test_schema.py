"""Schema versions on the ref: newer refused, broken files named, older ones migrated on read."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deksdenflow.domain.eventlog.payloads import RunNote, StepFinished, StepStarted
from deksdenflow.domain.runs.models import JobKind
from deksdenflow.errors import NewerSchema, StateCorrupt
from deksdenflow.jobs import queue
from deksdenflow.store import Store
from deksdenflow.store.encoding import codec
from deksdenflow.store.encoding.layout import (
    META_FILE,
    event_path,
    open_job_path,
    run_snapshot_path,
)
from tests.conftest import git
from tests.store.conftest import add_run, commit_file


def _note(store: Store, uid: str) -> None:
    store.transact(lambda tx: tx.emit(RunNote(), run=uid))


def test_a_newer_meta_schema_is_refused_before_any_write(store: Store, repo: Path) -> None:
    uid = add_run(store)
    tip = commit_file(repo, META_FILE, b'{"schema_version": 99, "lamport": 5}')
    with pytest.raises(NewerSchema, match=r"meta.json on refs/deksdenflow/state was written by "
                                           r"a newer dflow \(schema 99, this dflow knows 1\)"):
        _note(store, uid)
    assert store.tip() == tip


def test_a_newer_run_snapshot_is_refused_on_read_and_write(store: Store, repo: Path) -> None:
    uid = add_run(store)
    path = run_snapshot_path(uid)
    doc = json.loads(git("show", f"refs/deksdenflow/state:{path}", cwd=repo))
    tip = commit_file(repo, path, json.dumps({**doc, "schema_version": 2}).encode())
    with pytest.raises(NewerSchema, match="upgrade dflow"):
        store.read().runs()
    with pytest.raises(NewerSchema):
        _note(store, uid)
    assert store.tip() == tip


def test_a_newer_project_toml_is_refused(store: Store, repo: Path) -> None:
    text = git("show", "refs/deksdenflow/state:project.toml", cwd=repo)
    tip = commit_file(repo, "project.toml", text.replace("schema_version = 1",
                                                         "schema_version = 3").encode())
    with pytest.raises(NewerSchema, match="project.toml"):
        _note(store, add_run_unchecked(store))
    assert store.tip() == tip


def add_run_unchecked(store: Store) -> str:
    """A run uid that need not exist: the version check must fire before it is looked up."""
    return "0" * 26


def test_corrupt_json_names_the_file(store: Store, repo: Path) -> None:
    uid = add_run(store)
    commit_file(repo, run_snapshot_path(uid), b'{"schema_version": 1, "run": ')
    with pytest.raises(StateCorrupt, match=rf"{run_snapshot_path(uid)} on "
                                           r"refs/deksdenflow/state is not valid JSON"):
        store.read().runs()


def test_corrupt_json_on_the_ref_is_one_line_and_exit_1_from_the_real_cli(
        store: Store, repo: Path) -> None:
    uid = add_run(store)
    path = event_path(uid, store.read().run_events(uid)[-1].id)
    tip = commit_file(repo, path, b"\x00not json")
    dflow = Path(sys.executable).with_name("dflow")
    out = subprocess.run([str(dflow), "events"], cwd=repo, capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stderr.startswith(f"error: {path} on refs/deksdenflow/state is not valid JSON")
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert store.tip() == tip


# --- migrations -----------------------------------------------------------------------------


Seen = dict[str, list[dict[str, Any]]]


CURRENT = dict(codec.CURRENT_VERSIONS)


@pytest.fixture
def bump_to_v2(monkeypatch: pytest.MonkeyPatch) -> Callable[[], Seen]:
    """Make this dflow know the next version of events, snapshots and jobs, with a migration
    from today's that records each document it was given (so a test sees what was migrated)."""

    def bump() -> Seen:
        seen: Seen = {"event": [], "snapshot": [], "job": []}
        for kind in seen:
            monkeypatch.setitem(codec.CURRENT_VERSIONS, kind, CURRENT[kind] + 1)
            monkeypatch.setitem(codec.MIGRATIONS, kind,
                                {CURRENT[kind]: _to_v2(kind, seen[kind])})
        return seen

    return bump


def _to_v2(kind: str, seen: list[dict[str, Any]]) -> codec.Migration:
    def migrate(doc: dict[str, Any]) -> dict[str, Any]:
        seen.append(dict(doc))
        if kind == "event":
            doc["actor"] += " (migrated)"
        elif kind == "snapshot":
            doc["run"] = {**doc["run"], "task": doc["run"]["task"] + " (migrated)"}
        else:
            doc["error"] = "migrated"
        return doc

    return migrate


def test_old_documents_are_migrated_on_read(store: Store, bump_to_v2: Callable[[], Seen]) -> None:
    uid = add_run(store)  # real version-1 documents, as the store writes them
    store.transact(lambda tx: queue.request(tx, JobKind.EXECUTE, run=uid, step=1))
    seen = bump_to_v2()
    view = store.read()
    snap = view.run(uid)
    assert snap is not None and snap.schema_version == CURRENT["snapshot"] + 1
    assert snap.run.task.endswith("(migrated)")
    events = view.run_events(uid)
    assert all(e.schema_version == CURRENT["event"] + 1 and e.actor.endswith("(migrated)")
               for e in events)
    assert [j.error for j in view.open_jobs()] == ["migrated"]
    assert {kind: {d["schema_version"] for d in seen[kind]} for kind in seen} == {
        kind: {CURRENT[kind]} for kind in seen}


def test_a_write_after_a_migration_stores_the_new_version(
        store: Store, repo: Path, bump_to_v2: Callable[[], Seen]) -> None:
    uid = add_run(store)
    bump_to_v2()
    store.transact(lambda tx: tx.emit(RunNote(), run=uid))
    raw = json.loads(git("show", f"refs/deksdenflow/state:{run_snapshot_path(uid)}", cwd=repo))
    assert raw["schema_version"] == CURRENT["snapshot"] + 1
    assert raw["run"]["task"].endswith("(migrated)")


def test_a_missing_migration_is_a_clear_error(store: Store, repo: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    uid = add_run(store)
    monkeypatch.setitem(codec.CURRENT_VERSIONS, "snapshot", 2)
    with pytest.raises(StateCorrupt, match=rf"{run_snapshot_path(uid)} on refs/deksdenflow/state: "
                                           r"no migration from "
                                           r"snapshot schema 1"):
        store.read().run(uid)


def test_open_job_index_is_written_with_its_schema_version(store: Store, repo: Path) -> None:
    uid = add_run(store)
    job = store.transact(lambda tx: queue.request(tx, JobKind.EXECUTE, run=uid, step=1))
    raw = json.loads(git("show", f"refs/deksdenflow/state:{open_job_path(job.id)}", cwd=repo))
    assert raw["schema_version"] == 1 and raw["kind"] == "execute"


# --- typed event payloads -------------------------------------------------------------------


def _rewrite_last_event(store: Store, repo: Path, uid: str, change: Callable[[dict[str, Any]],
                        None]) -> tuple[str, str]:
    event = store.read().run_events(uid)[-1]
    path = event_path(uid, event.id)
    doc = json.loads(git("show", f"refs/deksdenflow/state:{path}", cwd=repo))
    change(doc)
    return path, commit_file(repo, path, json.dumps(doc).encode())


def test_a_stored_event_that_fails_its_model_is_one_clear_line_from_the_real_cli(
        store: Store, repo: Path) -> None:
    """Hostile: another clone (or a hand edit) stored a step.finished whose duration is text."""
    uid = add_run(store)
    store.transact(lambda tx: tx.emit(StepStarted(), run=uid, step=1))
    store.transact(lambda tx: tx.emit(StepFinished(summary="done"), run=uid, step=1))
    path, tip = _rewrite_last_event(store, repo, uid,
                                    lambda doc: doc["data"].update(duration_s="long"))
    event_id = path.rsplit("/", 1)[-1].removesuffix(".json")
    dflow = Path(sys.executable).with_name("dflow")
    out = subprocess.run([str(dflow), "events"], cwd=repo, capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stderr.startswith(
        f"error: step.finished event {event_id} ({path} on refs/deksdenflow/state) does not "
        "match its schema (data.duration_s: Input should be a valid number")
    assert "run `dflow doctor" in out.stderr  # --repair: the trust check saw it first
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert store.tip() == tip


@pytest.mark.parametrize(("change", "where"), [
    (lambda doc: doc["data"].update(surprise=1), "data.surprise: Extra inputs"),
    (lambda doc: doc.update(type="run.teleported"), "type: Input should be"),
    (lambda doc: doc["data"].update(level="loud"), "data.level: Input should be"),
])
def test_a_bad_stored_event_is_state_corrupt_naming_the_field(
        store: Store, repo: Path, change: Callable[[dict[str, Any]], None], where: str) -> None:
    uid = add_run(store)
    store.transact(lambda tx: tx.emit(RunNote(text="hello"), run=uid))
    _rewrite_last_event(store, repo, uid, change)
    with pytest.raises(StateCorrupt, match=r"does not match its schema \(" + re.escape(where)):
        store.read().run_events(uid)


def test_a_schema_1_run_note_keeps_its_words_under_text(store: Store, repo: Path) -> None:
    """Schema 1 wrote a note's words as `text` (ci/) or `reason` (the budget); 2 says `text`."""
    uid = add_run(store)
    store.transact(lambda tx: tx.emit(RunNote(text="fix-CI gave up"), run=uid))

    def as_schema_1(doc: dict[str, Any]) -> None:
        doc["schema_version"] = 1
        doc["data"] = {"level": "warning", "reason": "over budget", "text": "fix-CI gave up"}

    _rewrite_last_event(store, repo, uid, as_schema_1)
    note = store.read().run_events(uid)[-1]
    assert note.schema_version == 2
    assert note.payload(RunNote).text == "fix-CI gave up — over budget"
    assert note.payload(RunNote).level == "warning"
