"""libgit2's process-wide options and version: set by the composition root once per process
(deksdenflow/wiring.py), never by every Store it opens."""

from __future__ import annotations

import pygit2

PACK_FILE_LIMIT = 128


def configure_libgit2(*, fsync: bool) -> None:
    """libgit2's options are process-wide: the composition root sets them once per process
    (deksdenflow/wiring.py), not every Store it opens."""
    if fsync:
        pygit2.option(pygit2.enums.Option.ENABLE_FSYNC_GITDIR, 1)
    # Every object a store commit references was written by the same transaction a moment
    # before, or is in the tree it started from: libgit2's lookup of each one on insert is
    # pure cost on the write path (docs/state-ref.md, "Writing").
    pygit2.option(pygit2.enums.Option.ENABLE_STRICT_OBJECT_CREATION, 0)
    # libgit2 keeps every pack it has opened open for the life of the Repository, and each
    # state commit adds one: without a cap a pool or console process runs out of file
    # descriptors after ~1,000 commits. With one it closes the least recently used.
    pygit2.option(pygit2.enums.Option.SET_MWINDOW_FILE_LIMIT, PACK_FILE_LIMIT)


def libgit2_version() -> str:
    """The libgit2 this dflow writes the state ref with (for `dflow doctor`)."""
    return str(pygit2.LIBGIT2_VERSION)
