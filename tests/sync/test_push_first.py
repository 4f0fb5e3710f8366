"""The push after a command does not fetch first (decision 1610): while the tip holds what this
clone last saw of the remote, the work of the runs the command changed and then the state are
pushed, and the remote's compare-and-swap says whether a teammate pushed meanwhile; only a
refused push fetches, merges and pushes again. Nothing a teammate pushed is lost, no state
leaves before its work, and the next read still loads nothing heavy."""

from __future__ import annotations

from pathlib import Path

import pytest

from deksdenflow.domain.eventlog.payloads import RunNote
from deksdenflow.errors import CommitRefused
from deksdenflow.sync import service, work
from deksdenflow.workflow.lifecycle import controls
from deksdenflow.workflow.lifecycle.runs import create_run
from tests.cli.test_fast_controls import answered_fast, fresh
from tests.conftest import git
from tests.sync.conftest import Clone
from tests.sync.machines import remote_ref
from tests.sync.test_seen import heavy, merge_work_of, status_of

STATE = "refs/deksdenflow/state"


def _commit_on_run_branch(project: object, branch: str, name: str, text: str) -> str:
    root = project.root  # type: ignore[attr-defined]
    worktree = root.parent / f"{root.name}.worktrees" / branch
    (worktree / name).write_text(text)
    git("add", "-A", cwd=worktree)
    git("commit", "-q", "-m", name, cwd=worktree)
    return git("rev-parse", "HEAD", cwd=worktree)


def _teammate_pushes_to_main(tmp_path: Path, remote: Path) -> str:
    mate = tmp_path / "mate-code"
    git("clone", "-q", remote.as_uri(), str(mate), cwd=tmp_path)
    (mate / "other.txt").write_text("theirs\n")
    git("add", "-A", cwd=mate)
    git("-c", "user.name=m", "-c", "user.email=m@x", "commit", "-q", "-m", "theirs", cwd=mate)
    git("push", "-q", "origin", "main", cwd=mate)
    return git("rev-parse", "HEAD", cwd=mate)


def test_a_push_after_a_command_fetches_nothing_first_and_sends_the_work_before_the_state(
        clone: Clone, remote: Path, tmp_path: Path) -> None:
    a = clone("a")
    snap = create_run(a, "x", "add a greeting", plan=False)
    service.sync(a)
    seen_main = git("rev-parse", "refs/remotes/origin/main", cwd=a.root)
    assert _teammate_pushes_to_main(tmp_path, remote) != seen_main
    commit = _commit_on_run_branch(a, snap.run.branch, "greet.py", "print('hi')\n")
    a.store.transact(lambda tx: tx.emit(RunNote(text="fix", commit=commit), run=snap.run.uid))
    report = service.push(a)
    assert report.pushed and report.outcome == "up-to-date"
    assert remote_ref(remote, STATE) == a.store.tip()
    assert remote_ref(remote, work.work_ref(snap.run.uid, snap.run.branch)) == commit
    # nothing was fetched: the base branch's tracking ref is where the last sync left it
    assert git("rev-parse", "refs/remotes/origin/main", cwd=a.root) == seen_main


def test_a_push_after_a_command_still_refuses_work_with_a_secret_and_keeps_its_state(
        clone: Clone, remote: Path) -> None:
    a = clone("a")
    snap = create_run(a, "x", "add a greeting", plan=False)
    service.sync(a)
    commit = _commit_on_run_branch(
        a, snap.run.branch, ".env", "OPENAI_API_KEY=sk-proj-" + "a1B2c3D4" * 6 + "\n")
    a.store.transact(lambda tx: tx.emit(RunNote(text="fix", commit=commit), run=snap.run.uid))
    published = remote_ref(remote, STATE)
    with pytest.raises(CommitRefused, match=r"\.env"):
        service.push(a)
    assert remote_ref(remote, STATE) == published
    assert remote_ref(remote, work.work_ref(snap.run.uid, snap.run.branch)) is None


def test_a_push_refused_because_a_teammate_pushed_meanwhile_is_merged_and_pushed_again(
        clone: Clone, remote: Path) -> None:
    a, b = clone("a"), clone("b")
    snap = create_run(a, "x", "t", plan=False)
    service.sync(a)
    service.sync(b)
    controls.pause(b, "x")
    service.sync(b)  # the teammate's pause reaches the remote; a has not seen it
    a.store.transact(lambda tx: tx.emit(RunNote(text="mine"), run=snap.run.uid))
    mine = a.store.tip()
    report = service.push(a)
    assert report.pushed and report.outcome == "merged"
    tip = remote_ref(remote, STATE)
    assert tip == a.store.tip() != mine
    assert a.store.repo.descendant_of(tip, mine)  # ours is in it
    assert a.view().find_run("x").run.paused  # theirs is in it
    service.sync(b)
    notes = [e for e in b.view().run_events(snap.run.uid) if e.type == "run.note"]
    assert [e.payload(RunNote).text for e in notes] == ["mine"]


def test_after_a_control_pushed_the_next_read_loads_nothing_heavy(
        clone: Clone, remote: Path) -> None:
    a = clone("a")
    create_run(a, "x", "t", plan=False)
    service.sync(a)
    status_of(a.root)  # the whole path once
    paused = fresh(["pause", "x"], a.root)
    assert paused.code == 0 and answered_fast(paused), paused.err
    assert remote_ref(remote, STATE) == git("rev-parse", STATE, cwd=a.root)
    shown, modules = status_of(a.root)
    assert shown["x"]["paused"] is True
    assert not heavy(modules), heavy(modules)


def test_a_branch_merged_before_a_control_is_recorded_although_the_push_looked_at_one_run(
        clone: Clone) -> None:
    a = clone("a")
    done = create_run(a, "done", "t", plan=False)
    create_run(a, "other", "t", plan=False)
    service.sync(a)
    status_of(a.root)
    merge_work_of(a, done)
    assert fresh(["pause", "other"], a.root).code == 0  # a ref moved: the whole look
    shown, _ = status_of(a.root)
    assert shown["done"]["merged"] is True, shown


def test_a_control_after_a_fetch_looks_at_the_runs_the_fetch_brought(
        clone: Clone, remote: Path) -> None:
    """The fetch moved the state's tracking ref: the runs it brought were looked at by no
    read yet, so the push after the control looks at every run (decision 1612)."""
    a, b = clone("a"), clone("b")
    create_run(a, "other", "t", plan=False)
    service.sync(a)
    service.sync(b)
    snap = create_run(b, "done", "t", plan=False)
    service.sync(b)
    merge_work_of(b, snap)
    git("push", "-q", "origin", "main", cwd=b.root)
    git("fetch", "-q", "origin", "main:refs/remotes/origin/main", cwd=a.root)
    status_of(a.root)  # every run looked at; "done" is not here yet
    git("fetch", "-q", "origin", cwd=a.root)  # the state alone moves
    assert fresh(["pause", "other"], a.root).code == 0
    assert a.view().find_run("done").run.merged
