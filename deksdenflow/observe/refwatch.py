"""Wake a console the moment the state ref's files change, instead of at the next poll: the
Textual console and `dflow serve`'s event stream both follow the ref through this module.

The watched files are the ones any move of `refs/deksdenflow/state` (or of a remote-tracking
state ref after a `git fetch`) touches: the loose ref files under `refs/deksdenflow/`, the
`packed-refs` file, and the reflogs under `logs/refs/deksdenflow/`. watchfiles (inotify on
Linux, FSEvents on macOS, ReadDirectoryChangesW on Windows) reports them; polling stays on,
slower, as the fallback for filesystems that report nothing (NFS, some mounted volumes).
See docs/decisions/1321-console-watches-the-ref-files.md.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

REFS = Path("refs/deksdenflow")  # where the state ref and its remote-tracking copies live
STEP_MS = 5  # quiet time after a change before it is reported (git renames in bursts)
DEBOUNCE_MS = 50
STOP_CHECK_MS = 200  # how soon the watch thread notices `stop` when nothing changes


def watched_dirs(git_dir: Path) -> list[Path]:
    """The git dir itself (packed-refs, not recursively) and every folder of dflow's refs
    and reflogs (a ref update renames `<ref>.lock` over the ref: its folder sees it)."""
    found = [git_dir]
    for top in (git_dir / REFS, git_dir / "logs" / REFS):
        for folder, _, _ in os.walk(top):
            found.append(Path(folder))
    return found


def is_ref_file(path: str) -> bool:
    """A change of this file may mean a ref moved (lock files come and go on every write)."""
    name = os.path.basename(path)
    if name.endswith(".lock"):
        return False
    return name == "packed-refs" or f"{os.sep}deksdenflow" in path


def ref_changes(git_dir: Path, stop: threading.Event) -> Iterator[bool]:
    """Yield once per burst of changes to the state refs' files (True when a remote-tracking
    ref's files were among them); returns once `stop` is set. Blocks: run it in a thread.
    Raises ImportError or OSError when the platform cannot watch (then poll instead)."""
    # why: start-up
    from watchfiles import watch  # imported only when a console starts watching

    def wanted(_: object, path: str) -> bool:
        return is_ref_file(path)

    for changes in watch(*watched_dirs(git_dir), watch_filter=wanted, recursive=False,
                         step=STEP_MS, debounce=DEBOUNCE_MS, stop_event=stop,
                         rust_timeout=STOP_CHECK_MS, yield_on_timeout=False,
                         ignore_permission_denied=True, raise_interrupt=False):
        yield any(f"{os.sep}remotes{os.sep}" in path for _, path in changes)


def follow(git_dir: Path, stop: threading.Event, on_change: Callable[[bool], None],
           on_failure: Callable[[], None]) -> threading.Thread:
    """Call `on_change(remote)` from a daemon thread (it never holds up an exit) until
    `stop` is set or `on_change` raises; `on_failure()` when files cannot be watched here."""

    def loop() -> None:
        try:
            for remote in ref_changes(git_dir, stop):
                on_change(remote)
        except (ImportError, OSError, RuntimeError):
            if not stop.is_set():
                with contextlib.suppress(RuntimeError):  # the app may be gone already
                    on_failure()

    thread = threading.Thread(target=loop, name="dflow-refwatch", daemon=True)
    thread.start()
    return thread
