"""A fetch of the state merged first by a command that does not look for merged branches
(`dflow project show`) is still looked at by the next read: the runs it brought are those
changed since the tip the last look saw, not since the read began (decision 1612)."""

from __future__ import annotations

from pathlib import Path

from deksdenflow.sync import seen, service
from deksdenflow.workflow.lifecycle import runs
from tests.cli.test_fast_controls import fresh
from tests.conftest import git
from tests.sync.conftest import Clone
from tests.sync.test_seen import merge_work_of, status_of


def test_a_fetch_merged_by_another_command_first_is_still_looked_at(
        clone: Clone, remote: Path) -> None:
    a, b = clone("a"), clone("b")
    runs.create_run(a, "other", "t", plan=False)
    service.sync(a)
    service.sync(b)
    snap = runs.create_run(b, "done", "t", plan=False)
    service.sync(b)
    merge_work_of(b, snap)
    git("push", "-q", "origin", "main", cwd=b.root)
    git("fetch", "-q", "origin", "main:refs/remotes/origin/main", cwd=a.root)
    shown, _ = status_of(a.root)
    assert set(shown) == {"other"}
    common = str(a.store.git_dir)
    git("fetch", "-q", "origin", cwd=a.root)  # the state alone moves
    assert seen.fetched_only(common, seen.stamp(common))
    found = fresh(["project", "show"], a.root)  # merges the fetch; not a READ: no look
    assert found.code == 0, found.err
    shown, _ = status_of(a.root)
    assert shown["done"]["merged"] is True, shown
