"""Build a new tree from a base tree plus a set of path edits, touching only what changed.

Trees are serialised here (git's format: `<mode> <name>\\0<20-byte id>`, sorted with a
directory named as if it ended in `/`), so that a commit's objects can go to one pack
(store/plumbing/pack.py) instead of one loose file each. Replacing an existing entry of a big tree
(a run in its bucket: every step event) splices its 20 id bytes in place, without parsing the
other entries.
"""

from __future__ import annotations

from typing import Union

import pygit2

from .objects import TREE_MODE, tree_index
from .objects import TreeIndex as _Index
from .pack import PackWriter

_Node = dict[str, Union["_Node", pygit2.Oid, None]]
BLOB_MODE = b"100644"
OBJ_BLOB, OBJ_TREE = 3, 2


class TreeCache:
    """Trees recently read or written, by raw id: their bytes and where each entry's id sits.

    A transaction edits the trees on its paths; the next one edits the same trees again
    (the root, `runs/`, the run's bucket). Keeping the bytes and entry offsets of the trees
    the last commits wrote saves reading each from the object database and parsing it again
    (~1,000 entries in a big bucket). Bounded: the oldest go first."""

    LIMIT = 256

    def __init__(self) -> None:
        self._trees: dict[bytes, tuple[bytes, _Index]] = {}

    def get(self, repo: pygit2.Repository, oid: bytes) -> tuple[bytes, _Index]:
        hit = self._trees.get(oid)
        if hit is None:
            raw = repo.odb.read(pygit2.Oid(raw=oid))[1]
            hit = raw, tree_index(raw)
            self.put(oid, *hit)
        return hit

    def put(self, oid: bytes, raw: bytes, index: _Index) -> None:
        if oid not in self._trees and len(self._trees) >= self.LIMIT:
            del self._trees[next(iter(self._trees))]
        self._trees[oid] = (raw, index)


class TreeEdit:
    """Collects blob writes and deletions by path; `write()` returns the new root tree id.

    Objects go to `pack` when one is given (written by its owner before any ref moves), else
    to the object database at once; either way blobs are written before any tree or commit
    refers to them, so a crash at any point leaves only unreferenced objects behind.
    """

    def __init__(self, repo: pygit2.Repository, base: pygit2.Tree | None,
                 pack: PackWriter | None = None, cache: TreeCache | None = None) -> None:
        self._repo = repo
        self._base = base
        self._pack = pack
        self._cache = cache if cache is not None else TreeCache()
        self._root: _Node = {}

    def put(self, path: str, data: bytes) -> None:
        self._set(path, self._write(OBJ_BLOB, data))

    def delete(self, path: str) -> None:
        self._set(path, None)

    @property
    def is_empty(self) -> bool:
        return not self._root

    def _write(self, kind: int, data: bytes) -> pygit2.Oid:
        if self._pack is not None:
            return self._pack.add(kind, data)
        return self._repo.odb.write(kind, data)

    def _set(self, path: str, value: pygit2.Oid | None) -> None:
        *dirs, leaf = path.split("/")
        node = self._root
        for part in dirs:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"{path}: '{part}' is a file in this edit")
            node = child
        node[leaf] = value

    def write(self) -> pygit2.Oid:
        oid = self._write_node(self._base.id.raw if self._base is not None else None, self._root)
        if oid is None:
            return self._write(OBJ_TREE, b"")
        return pygit2.Oid(raw=oid)

    def _write_node(self, base: bytes | None, node: _Node) -> bytes | None:
        raw, index = self._cache.get(self._repo, base) if base is not None else (b"", {})
        changes: dict[bytes, tuple[bytes, bytes] | None] = {}
        for name, value in node.items():
            key = name.encode()
            if isinstance(value, dict):
                old = index.get(key)
                sub_base = raw[old[1]:old[1] + 20] if old and old[0] == TREE_MODE else None
                sub = self._write_node(sub_base, value)
                changes[key] = (TREE_MODE, sub) if sub is not None else None
            else:
                changes[key] = (BLOB_MODE, value.raw) if value is not None else None
        body, index = _edit(raw, index, changes)
        if not body:
            return None
        oid = self._write(OBJ_TREE, body).raw
        self._cache.put(oid, body, index)  # a spliced tree keeps its entries' offsets
        return oid


def _edit(raw: bytes, index: _Index, changes: dict[bytes, tuple[bytes, bytes] | None],
          ) -> tuple[bytes, _Index]:
    """The tree `raw` with `changes` applied, and its index. Replacing entries' ids (a run's
    snapshot, a bucket's run) splices 20 bytes in place and keeps the offsets; new names that
    sort after every entry (events, runs and jobs are named by time-ordered ids) are appended;
    anything else rebuilds the tree. Entries are found through the index built by walking
    the tree entry by entry: a name may hold a space, so searching for one could hit another."""
    out = bytearray(raw)
    added = []
    for name, change in changes.items():
        old = index.get(name)
        if old is None and change is not None:
            added.append((_sort_key(name, change[0]), name, change))
        elif change is None or old is None or old[0] != change[0]:
            return _rebuild(raw, index, changes)  # removed, or changes kind (or mode)
        else:
            out[old[1]:old[1] + 20] = change[1]
    if not added:
        return bytes(out), index
    added.sort()
    if index:
        last = next(reversed(index))
        if added[0][0] <= _sort_key(last, index[last][0]):
            return _rebuild(raw, index, changes)
    index = dict(index)
    for _, name, (mode, oid) in added:
        head = b"%s %s\0" % (mode, name)
        index[name] = (mode, len(out) + len(head))
        out += head + oid
    return bytes(out), index


def _sort_key(name: bytes, mode: bytes) -> bytes:
    return name + b"/" if mode == TREE_MODE else name


def _rebuild(raw: bytes, index: _Index, changes: dict[bytes, tuple[bytes, bytes] | None],
             ) -> tuple[bytes, _Index]:
    entries = {name: (mode, raw[at:at + 20]) for name, (mode, at) in index.items()}
    for name, change in changes.items():
        if change is None:
            entries.pop(name, None)
        else:
            entries[name] = change
    ordered = sorted(entries.items(), key=lambda item: _sort_key(item[0], item[1][0]))
    parts: list[bytes] = []
    new_index: _Index = {}
    at = 0
    for name, (mode, oid) in ordered:
        head = b"%s %s\0" % (mode, name)
        at += len(head)
        new_index[name] = (mode, at)
        parts += (head, oid)
        at += 20
    return b"".join(parts), new_index
