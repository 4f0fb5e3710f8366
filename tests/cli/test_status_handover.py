"""The writer hands the changed runs' status lines to the next `dflow status` (decision 1304):
used only for the same run tree under the same settings, never stale after any move."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import RunPaused, RunResumed
from deksdenflow.reads import excerpts as listing
from deksdenflow.store import cache
from deksdenflow.store.lite import LiteView
from deksdenflow.sync import service
from tests.cli.test_lazy_cli import loaded_by
from tests.store.conftest import add_run
from tests.sync.conftest import clone_of, make_remote

DFLOW = str(Path(sys.executable).with_name("dflow"))


Runs = dict[str, dict[str, object]]


def status(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Runs:
    out = subprocess.run([DFLOW, "status", "--json", *args], cwd=cwd, capture_output=True,
                         text=True, env={**os.environ, **(env or {})})
    assert out.returncode == 0, out.stderr
    return {run["name"]: run for run in json.loads(out.stdout)["runs"]}


def table(cwd: Path) -> str:
    """The table, with `4s ago` (the last column) made independent of the clock."""
    out = subprocess.run([DFLOW, "status"], cwd=cwd, capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "120"})
    assert out.returncode == 0, out.stderr
    return "\n".join(re.sub(r"\d+[smh] ago\s*$", "<AGO>", line)
                     for line in out.stdout.split("\n"))


def journal(repo: Path) -> Path:
    return repo / ".git" / "deksdenflow" / "cache" / listing.JOURNAL


def plant(project: Project, repo: Path, text: bytes, instead: bytes) -> None:
    """Rewrite the journal's records so that the runs' lines say `instead` for `text`."""
    common = str(repo / ".git")
    tip = cache.read_tip(common)
    assert tip is not None
    key = listing.settings_key(LiteView(common, tip).blob_id("project.toml"), common)
    records = cache.records(common, listing.JOURNAL, key)
    assert records, "the writer handed nothing over"
    journal(repo).unlink()
    for payload in records:
        cache.append(common, listing.JOURNAL, key, payload.replace(text, instead), 1 << 20)


def test_after_a_dflow_write_status_loads_no_model_and_prints_what_it_would_compute(
        project: Project, repo: Path) -> None:
    uids = [add_run(project.store, name) for name in ("one", "two")]
    table(repo)  # a listing is kept: from now on writers hand their lines over
    project.store.transact(lambda tx: tx.emit(RunPaused(), run=uids[0]))
    assert journal(repo).stat().st_size > 0
    modules = loaded_by(["status"], cwd=repo)
    assert "pydantic" not in modules and "pygit2" not in modules and "typer" not in modules
    handed = table(repo), status(repo)
    shutil.rmtree(repo / ".git" / "deksdenflow" / "cache")  # every line computed afresh
    assert (table(repo), status(repo)) == handed
    assert handed[1]["one"]["paused"] is True


def test_a_handed_over_line_is_what_status_prints(project: Project, repo: Path) -> None:
    """The journal is read (so the tests below can fail): a planted line is shown."""
    uid = add_run(project.store, "one")
    status(repo)
    project.store.transact(lambda tx: tx.emit(RunPaused(), run=uid))
    plant(project, repo, b"do one", b"PLANTED")
    assert status(repo)["one"]["task"] == "PLANTED"


@pytest.mark.parametrize("move", ["dflow write", "project.toml", "DFLOW variable"])
def test_a_handed_over_line_is_never_shown_after_the_ref_or_the_settings_moved(
        project: Project, repo: Path, move: str) -> None:
    uid = add_run(project.store, "one")
    status(repo)
    project.store.transact(lambda tx: tx.emit(RunPaused(), run=uid))
    plant(project, repo, b"do one", b"PLANTED")
    env = {}
    if move == "dflow write":
        project.store.transact(lambda tx: tx.emit(RunResumed(), run=uid))
    elif move == "project.toml":
        project.set_settings({"qa.policy": "end"})
    else:
        env = {"DFLOW_QA_POLICY": "end"}
    shown = status(repo, env=env)["one"]
    assert shown["task"] == "do one"
    assert shown["paused"] is (move != "dflow write")


def test_a_run_moved_by_a_sync_from_another_clone_is_shown_as_it_is_now(tmp_path: Path) -> None:
    remote = make_remote(tmp_path)
    a = clone_of(remote.as_uri(), tmp_path / "a")
    uid = add_run(a.store, "one")
    service.sync(a)
    b = clone_of(remote.as_uri(), tmp_path / "b")
    assert status(a.root)["one"]["paused"] is False and status(b.root)["one"]["paused"] is False
    b.store.transact(lambda tx: tx.emit(RunPaused(), run=uid))
    service.sync(b)
    service.sync(a)  # fetch and fast-forward: no writer here handed a line over
    assert status(a.root)["one"]["paused"] is True
    a.store.transact(lambda tx: tx.emit(RunResumed(), run=uid))  # handed over here
    assert status(a.root)["one"]["paused"] is False
    b.store.transact(lambda tx: tx.emit(RunResumed(), run=uid))
    b.store.transact(lambda tx: tx.emit(RunPaused(), run=uid))
    service.sync(b)
    service.sync(a)  # a merge now: both clones moved the run
    merged = status(a.root)
    assert merged["one"]["uid"] == uid and merged["one"]["paused"] == a.view().run(uid).run.paused
    shutil.rmtree(a.root / ".git" / "deksdenflow" / "cache")
    assert status(a.root) == merged


def test_a_damaged_journal_is_read_up_to_the_damage(project: Project, repo: Path) -> None:
    uid = add_run(project.store, "one")
    status(repo)
    project.store.transact(lambda tx: tx.emit(RunPaused(), run=uid))
    good = journal(repo).read_bytes()
    for damaged in (good[:-5], b"garbage\n" + good, good.replace(b"do one", b"do two")):
        journal(repo).write_bytes(damaged)
        (repo / ".git" / "deksdenflow" / "cache" / listing.LINES).unlink(missing_ok=True)
        assert status(repo)["one"]["task"] == "do one"


def test_nothing_is_handed_over_where_nobody_lists(project: Project, repo: Path) -> None:
    uid = add_run(project.store, "one")
    project.store.transact(lambda tx: tx.emit(RunPaused(), run=uid))
    assert not journal(repo).exists()  # no listing kept: the writer does no extra work


def test_the_journal_is_started_again_past_its_cap(tmp_path: Path) -> None:
    common = str(tmp_path)
    for n in range(3):
        cache.append(common, listing.JOURNAL, "k", b"x" * 100 + str(n).encode(), 200)
    cache.append(common, listing.JOURNAL, "other", b"y", 200)
    assert cache.records(common, listing.JOURNAL, "k") == [b"x" * 100 + b"2"]
    assert cache.records(common, listing.JOURNAL, "other") == [b"y"]
    assert (tmp_path / "deksdenflow" / "cache" / listing.JOURNAL).stat().st_size < 300


def test_the_hand_over_reads_the_commit_it_published_not_the_ref_after_a_move(
        project: Project, repo: Path) -> None:
    # A `git fetch` takes no dflow lock: between the publish and the hook the ref may name a
    # commit nobody checked. The hook must read the commit the store published.
    uid = add_run(project.store, "one")
    status(repo)  # a listing is kept: the writer hands lines over from now on
    empty = subprocess.run(["git", "mktree"], cwd=repo, input="", capture_output=True,
                           text=True, check=True).stdout.strip()
    foreign = subprocess.run(["git", "commit-tree", "-m", "x", empty], cwd=repo,
                             capture_output=True, text=True, check=True).stdout.strip()
    hook = project.store.published
    assert hook is not None
    moved = []

    def move_then_publish(tx: object) -> None:
        published = subprocess.run(["git", "rev-parse", "refs/deksdenflow/state"], cwd=repo,
                                   capture_output=True, text=True, check=True).stdout.strip()
        subprocess.run(["git", "update-ref", "refs/deksdenflow/state", foreign], cwd=repo,
                       check=True)
        moved.append(published)
        hook(tx)  # type: ignore[arg-type]

    project.store.published = move_then_publish
    project.store.transact(lambda tx: tx.emit(RunPaused(), run=uid))
    assert moved
    common = str(repo / ".git")
    key = listing.settings_key(LiteView(common, moved[0]).blob_id("project.toml"), common)
    handed = [json.loads(payload) for payload in cache.records(common, listing.JOURNAL, key)]
    run_tree = LiteView(common, moved[0]).entry_id(f"runs/{uid[:5]}/{uid}")
    assert any(run_tree in record for record in handed)  # read from what was published


def test_after_a_settings_change_the_writer_hands_every_line_over(
        project: Project, repo: Path) -> None:
    """A changed project.toml changes every run's line (why it waits): the writer, which
    has the new settings, hands them all over; status loads no model and prints what it
    would compute."""
    for name in ("one", "two", "three"):
        add_run(project.store, name)
    table(repo)  # a listing is kept under the old settings
    project.set_settings({"qa.policy": "never"})
    modules = loaded_by(["status"], cwd=repo)
    assert "pydantic" not in modules and "pygit2" not in modules and "typer" not in modules
    handed = table(repo), status(repo)
    shutil.rmtree(repo / ".git" / "deksdenflow" / "cache")  # every line computed afresh
    assert (table(repo), status(repo)) == handed
