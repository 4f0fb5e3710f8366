"""The shape of a state tree, checked before any of it is parsed: whoever can push the shared
ref can write anything into it, and one 100,000-deep event file or a 300 MB blob must be a
refusal, not a crash or gigabytes of memory for every teammate
(docs/decisions/1541-shapes-before-parsing.md, docs/security.md).

`trust.validate_tree` runs these checks on every file it validates: a new local tip, a tip
adopted or fast-forwarded to, and a remote's state before it is merged (store/sharing/integrate.py).
Sizes are read from the object headers, so an oversized blob is never inflated.
"""

from __future__ import annotations

import pygit2
from pygit2.enums import FileMode

from ...domain.agents.nesting import MAX_DEPTH, too_deep
from ...errors import StateCorrupt
from .layout import STATE_REF

MAX_EVENT_BYTES = 1_048_576  # an event file (dflow caps every text it stores far below this)
MAX_SNAPSHOT_BYTES = 8_388_608  # a run's snapshot, a job or the meta file
MAX_SETTINGS_BYTES = 1_048_576  # project.toml
MAX_ARTIFACT_BYTES = 16_777_216  # a transcript or report (`[artifacts] max_bytes` stays below)
MAX_TREE_ENTRIES = 100_000  # the layout fans out, so no folder dflow writes comes near this
_FILE_MODES = (FileMode.BLOB, FileMode.BLOB_EXECUTABLE)


class ShapeRefused(StateCorrupt):
    """A state file or folder dflow would never write: too large, too deep, not a file."""


class RemoteStateRefused(StateCorrupt):
    """A remote's state failed the checks: none of it was taken."""


def check_tree_size(tree: pygit2.Tree, path: str) -> None:
    """A folder with more entries than the layout ever makes is refused before it is walked."""
    if len(tree) > MAX_TREE_ENTRIES:
        raise ShapeRefused(f"{path or 'the root'} on {STATE_REF} holds {len(tree):,} entries, "
                           f"over the cap of {MAX_TREE_ENTRIES:,}")


def check_entry(repo: pygit2.Repository, path: str, oid: pygit2.Oid, mode: int | None,
                cap: int) -> None:
    """A plain file (no symlink, no gitlink) of at most `cap` bytes, by its header (`mode`
    None: an object met outside a tree, whose entry the caller checked)."""
    if mode is not None and mode not in _FILE_MODES:
        kind = "a symlink" if mode == FileMode.LINK else "not a plain file"
        raise ShapeRefused(f"{path} on {STATE_REF} is {kind}, which dflow never writes")
    try:
        _, size = repo.odb.read_header(oid)
    except (KeyError, pygit2.GitError, ValueError) as exc:
        raise ShapeRefused(f"{path} on {STATE_REF} names an object this clone lacks") from exc
    if size > cap:
        raise ShapeRefused(f"{path} on {STATE_REF} is {size:,} bytes, over the cap of "
                           f"{cap:,} for such a file")


def check_json(data: bytes, path: str) -> None:
    """JSON nested deeper than dflow ever writes is refused before a parser recurses into it."""
    if too_deep(data):
        raise ShapeRefused(f"{path} on {STATE_REF} nests deeper than {MAX_DEPTH} levels, "
                           "which dflow never writes")
