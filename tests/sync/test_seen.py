"""The remote costs nothing until it is used (sync/seen.py, decision 1550): before a read, the
implicit sync loads nothing heavy while no ref it reads moved; a moved ref (a `git fetch` of
a teammate's events, a branch merged into the base, another settings digest) takes the whole
path, and its result is what the whole path shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.runs.models import RunSnapshot
from deksdenflow.sync import seen, service
from deksdenflow.workflow.lifecycle import controls, runs
from tests.cli.test_fast_controls import fresh
from tests.conftest import git
from tests.sync.conftest import Clone

HEAVY = ("pygit2", "pydantic", "deksdenflow.sync.auto", "deksdenflow.wiring")


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY)


def status_of(where: Path) -> tuple[dict[str, dict[str, object]], set[str]]:
    """`dflow status --json` in a fresh process: each run by name, and the modules it loaded."""
    found = fresh(["status", "--json"], where)
    assert found.code == 0, found.err
    return {r["name"]: r for r in json.loads(found.out)["runs"]}, found.modules


def merge_work_of(clone: Project, snap: RunSnapshot) -> None:
    """A person commits a plan in the run's worktree and merges its branch into main."""
    worktree = Path(snap.run.worktree)
    plan = worktree / ".protocols" / snap.run.id / "plan.md"
    plan.parent.mkdir(parents=True, exist_ok=True)
    plan.write_text("# plan\n")
    git("add", "-A", cwd=worktree)
    git("commit", "-q", "-m", "work", cwd=worktree)
    git("merge", "-q", "--no-ff", "-m", "merge", snap.run.branch, cwd=clone.root)


def test_an_unmoved_read_loads_nothing_heavy_and_a_fetch_is_merged(clone: Clone) -> None:
    a, b = clone("a"), clone("b")
    runs.create_run(a, "login", "t", plan=False)
    service.sync(a)
    service.sync(b)
    status_of(b.root)  # the whole path once: it remembers what it saw
    shown, modules = status_of(b.root)
    assert not heavy(modules), heavy(modules)
    assert shown["login"]["paused"] is False
    controls.pause(a, "login")
    service.sync(a)  # the teammate pushes; plain git brings it
    git("fetch", "-q", "origin", cwd=b.root)
    shown, modules = status_of(b.root)
    assert shown["login"]["paused"] is True  # merged: the tracking ref moved
    assert "pygit2" in modules
    again, modules = status_of(b.root)
    assert again == shown and not heavy(modules)


def test_a_branch_merged_into_the_base_is_seen_by_the_next_read(clone: Clone) -> None:
    a = clone("a")
    snap = runs.create_run(a, "login", "t", plan=False)
    service.sync(a)
    status_of(a.root)
    worktree = Path(snap.run.worktree)
    plan = worktree / ".protocols" / snap.run.id / "plan.md"  # what says the branch has work
    plan.parent.mkdir(parents=True, exist_ok=True)
    plan.write_text("# plan\n")
    git("add", "-A", cwd=worktree)
    git("commit", "-q", "-m", "work", cwd=worktree)
    git("merge", "-q", "--no-ff", "-m", "merge", snap.run.branch, cwd=a.root)
    shown, _ = status_of(a.root)
    assert shown["login"]["merged"] is True, shown


def _settled(a: Project) -> str:
    """Clone `a` with one run, synced and read once: nothing left for the implicit sync."""
    runs.create_run(a, "login", "t", plan=False)
    service.sync(a)
    status_of(a.root)
    common = str(a.store.git_dir)
    assert seen.unmoved(common)
    return common


@pytest.mark.parametrize("change", ["DFLOW variable", "user config"])
def test_a_settings_change_outside_the_ref_takes_the_whole_path(
        clone: Clone, change: str, monkeypatch: pytest.MonkeyPatch) -> None:
    a = clone("a")
    common = _settled(a)
    if change == "DFLOW variable":
        monkeypatch.setenv("DFLOW_PROJECT_SYNC", "off")
    else:
        Path(a.root.parent / "user.toml").write_text('[project]\nsync = "off"\n')
        monkeypatch.setenv("DFLOW_CONFIG_FILE", str(a.root.parent / "user.toml"))
    assert not seen.unmoved(common)


def test_a_tip_moved_behind_the_stores_back_takes_the_whole_path(clone: Clone) -> None:
    a = clone("a")
    common = _settled(a)
    git("update-ref", "refs/deksdenflow/state", "refs/deksdenflow/state~1", cwd=a.root)
    assert not seen.unmoved(common)


def test_a_read_that_merged_a_fetch_shows_it_and_ends_without_the_teardown(
        clone: Clone) -> None:
    a, b = clone("a"), clone("b")
    runs.create_run(a, "login", "t", plan=False)
    service.sync(a)
    service.sync(b)
    status_of(b.root)
    controls.pause(a, "login")
    service.sync(a)
    git("fetch", "-q", "origin", cwd=b.root)
    found = fresh(["status", "--json"], b.root)
    assert found.code == 0, found.err
    assert {r["name"]: r["paused"] for r in json.loads(found.out)["runs"]} == {"login": True}
    assert found.how == "os._exit"  # pydantic's and pygit2's objects are not freed one by one
    unmoved = fresh(["status", "--json"], b.root)
    assert unmoved.out == found.out and unmoved.how == "returned"


def test_a_fetch_of_the_state_alone_looks_again_at_the_runs_it_brought(
        clone: Clone, remote: Path) -> None:
    """Only the state's tracking ref moved: the look for merged branches covers the runs the
    merge changed (decision 1612), and a run the fetch brought whose work is on the base
    already is recorded merged."""
    a, b = clone("a"), clone("b")
    runs.create_run(a, "other", "t", plan=False)
    service.sync(a)
    service.sync(b)
    snap = runs.create_run(b, "done", "t", plan=False)
    service.sync(b)  # its state reaches the remote before its work is on the base
    merge_work_of(b, snap)
    git("push", "-q", "origin", "main", cwd=b.root)
    git("fetch", "-q", "origin", "main:refs/remotes/origin/main", cwd=a.root)
    shown, _ = status_of(a.root)  # the base moved: every run looked at ("done" is not here yet)
    assert set(shown) == {"other"}
    common = str(a.store.git_dir)
    git("fetch", "-q", "origin", cwd=a.root)  # now the state alone moves
    assert seen.fetched_only(common, seen.stamp(common))
    shown, _ = status_of(a.root)
    assert shown["done"]["merged"] is True, shown
