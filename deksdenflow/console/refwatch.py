"""Wake the console the moment the state ref's files change, instead of at the next poll.

The watched files are the ones any move of `refs/deksdenflow/state` (or of a remote-tracking
state ref after a `git fetch`) touches: the loose ref files under `refs/deksdenflow/`, the
`packed-refs` file, and the reflogs under `logs/refs/deksdenflow/`. watchfiles (inotify on
Linux, FSEvents on macOS, ReadDirectoryChangesW on Windows) reports them; polling stays on,
slower, as the fallback for filesystems that report nothing (NFS, some mounted volumes).
See docs/decisions/1321-console-watches-the-ref-files.md.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ..store.layout import STATE_REF

STEP_MS = 5  # quiet time after a change before it is reported (git renames in bursts)
DEBOUNCE_MS = 50


def watched_dirs(git_dir: Path) -> list[Path]:
    """The git dir itself (packed-refs, not recursively) and every folder of dflow's refs
    and reflogs (a ref update renames `<ref>.lock` over the ref: its folder sees it)."""
    found = [git_dir]
    for top in (git_dir / Path(STATE_REF).parent, git_dir / "logs" / Path(STATE_REF).parent):
        for folder, _, _ in os.walk(top):
            found.append(Path(folder))
    return found


def is_ref_file(path: str) -> bool:
    """A change of this file may mean a ref moved (lock files come and go on every write)."""
    name = os.path.basename(path)
    if name.endswith(".lock"):
        return False
    return name == "packed-refs" or f"{os.sep}deksdenflow" in path


async def ref_changes(git_dir: Path, stop: Any) -> AsyncIterator[bool]:
    """Yield once per burst of changes to the state refs' files (True when a remote-tracking
    ref's files were among them); returns when `stop` is set. Raises ImportError or OSError
    when the platform cannot watch (then poll instead)."""
    from watchfiles import awatch  # imported by the console only, when it starts watching

    def wanted(_: object, path: str) -> bool:
        return is_ref_file(path)

    async for changes in awatch(*watched_dirs(git_dir), watch_filter=wanted, recursive=False,
                                step=STEP_MS, debounce=DEBOUNCE_MS, stop_event=stop,
                                ignore_permission_denied=True):
        yield any(f"{os.sep}remotes{os.sep}" in path for _, path in changes)
