"""A killed `dflow new` leaves nothing half-made (docs/decisions/0831-a-killed-new-is-undone.md).

`create_run` makes the run's branch and worktree, then records the run (and, through the
reconciler, its plan job) in one state commit. Before it makes anything it writes a marker,
`<git dir>/deksdenflow/creating/<branch>.json`, and holds an OS lock on it until that commit
is published or the branch and worktree are removed again. The OS drops the lock when the
process dies, so a marker whose lock is free was left by a dead `dflow new`:
- its run was recorded: the run is whole (it has its job or its reason); the marker goes;
- it was not: the branch and worktree it made are removed (a half checkout, git's
  "initializing" worktree lock and all), so the name and the number are free again.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

from ...context.project import Project
from ...errors import GitOperationError
from ...jobs.locks import try_lock, unlock
from ...store import Store
from ..checkouts import worktrees

CREATING_DIR = "creating"
BEGIN_TRIES = 100
def _dir(store: Store) -> Path:
    return store.data_dir / CREATING_DIR


class Markers:
    """The creation markers this process holds, by branch."""

    def __init__(self, project: Project) -> None:
        self.dir = _dir(project.store)
        self.held: dict[str, int] = {}

    def path(self, branch: str) -> Path:
        return self.dir / f"{branch}.json"

    def begin(self, branch: str, path: Path) -> None:
        """Mark `branch` and `path` as being made by this live process."""
        fd = None
        for _ in range(BEGIN_TRIES):  # a `recover` may hold it for a moment to look inside
            fd = try_lock(self.path(branch))
            if fd is not None:
                break
            time.sleep(0.02)
        if fd is None:  # another live `dflow new` is making this very branch
            raise GitOperationError(f"another dflow new is creating branch '{branch}'; "
                                    "wait for it and try again")
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"branch": branch, "path": str(path), "pid": os.getpid()})
                 .encode())
        self.held[branch] = fd

    def end(self, branch: str) -> None:
        fd = self.held.pop(branch, None)
        if fd is not None:
            unlock(self.path(branch), fd)

    def end_all(self) -> None:
        for branch in list(self.held):
            self.end(branch)


def recover(project: Project) -> list[str]:
    """Undo what dead `dflow new` processes made and did not record; the branches removed.

    Cheap when there is nothing to do (one directory listing)."""
    undone = []
    for marker in _markers(project.store):
        fd = try_lock(marker)
        if fd is None:
            continue  # its `dflow new` is alive
        try:
            left = _read(marker)
            if left is not None and undo(project, *left):
                undone.append(left[0])
        finally:
            unlock(marker, fd)
    return undone


def interrupted(project: Project) -> list[str]:
    """Branches a dead `dflow new` made and never recorded (for `dflow doctor`; changes
    nothing)."""
    found = []
    for marker in _markers(project.store):
        fd = try_lock(marker)
        if fd is None:
            continue
        try:
            left = _read(marker)
        finally:
            os.close(fd)  # dropped, not removed: `recover` still finds it
        if left is not None and not _recorded(project, *left):
            found.append(left[0])
    return found


def _markers(store: Store) -> list[Path]:
    try:
        return sorted(p for p in _dir(store).iterdir() if p.suffix == ".json")
    except FileNotFoundError:
        return []


def undo(project: Project, branch: str, path: Path) -> bool:
    """Remove the branch and worktree a `dflow new` made, unless its run was recorded
    (then they are the run's); True when removed."""
    if _recorded(project, branch, path):
        return False
    worktrees.remove(project, branch, path)
    return True


def _read(marker: Path) -> tuple[str, Path] | None:
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        data = json.loads(marker.read_text() or "null")
        return str(data["branch"]), Path(data["path"])
    return None  # killed before it wrote anything: nothing was made


def _recorded(project: Project, branch: str, path: Path) -> bool:
    """Does a run own this branch or worktree (recorded before the kill)?"""
    return any(s.run.branch == branch or (s.run.worktree and Path(s.run.worktree) == path)
               for s in project.view().runs())
