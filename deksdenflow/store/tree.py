"""Build a new tree from a base tree plus a set of path edits, touching only what changed.

Trees are serialised here (git's format: `<mode> <name>\\0<20-byte id>`, sorted with a
directory named as if it ended in `/`), so that a commit's objects can go to one pack
(store/pack.py) instead of one loose file each. Replacing an existing entry of a big tree (a
run in its bucket: every step event) splices its 20 id bytes in place, without parsing the
other entries.
"""

from __future__ import annotations

import re
from typing import Union

import pygit2

from .pack import PackWriter

_Node = dict[str, Union["_Node", pygit2.Oid, None]]
_ENTRY = re.compile(rb"(\d+) ([^\0]*)\0(.{20})", re.S)
TREE_MODE = b"40000"
BLOB_MODE = b"100644"
OBJ_BLOB, OBJ_TREE = 3, 2


class TreeEdit:
    """Collects blob writes and deletions by path; `write()` returns the new root tree id.

    Objects go to `pack` when one is given (written by its owner before any ref moves), else
    to the object database at once; either way blobs are written before any tree or commit
    refers to them, so a crash at any point leaves only unreferenced objects behind.
    """

    def __init__(self, repo: pygit2.Repository, base: pygit2.Tree | None,
                 pack: PackWriter | None = None) -> None:
        self._repo = repo
        self._base = base
        self._pack = pack
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
        oid = self._write_node(self._base, self._root)
        if oid is None:
            oid = self._write(OBJ_TREE, b"")
        return oid

    def _write_node(self, base: pygit2.Tree | None, node: _Node) -> pygit2.Oid | None:
        changes: dict[bytes, tuple[bytes, bytes] | None] = {}
        for name, value in node.items():
            if isinstance(value, dict):
                sub = self._write_node(_subtree(base, name), value)
                changes[name.encode()] = (TREE_MODE, sub.raw) if sub is not None else None
            else:
                changes[name.encode()] = (BLOB_MODE, value.raw) if value is not None else None
        raw = self._repo.odb.read(base.id)[1] if base is not None else b""
        body = _splice(raw, base, changes)
        if body is None:
            body = _rebuild(raw, changes)
        return self._write(OBJ_TREE, body) if body else None


def _splice(raw: bytes, base: pygit2.Tree | None,
            changes: dict[bytes, tuple[bytes, bytes] | None]) -> bytes | None:
    """`raw` with existing entries' ids replaced in place; None when a change is more than
    that (an entry added, removed, or changing kind). Entries are found by walking the tree
    entry by entry: a name may hold a space, so searching for one could hit another entry."""
    if base is None:
        return None
    ids = {m.group(2): m.start(3) for m in _ENTRY.finditer(raw)}
    out = bytearray(raw)
    for name, change in changes.items():
        if change is None or name not in ids:
            return None
        try:
            old = base[name.decode()]
        except KeyError:
            return None
        if old.filemode != int(change[0], 8):
            return None  # changes kind (or mode): rebuilt
        at = ids[name]
        out[at:at + 20] = change[1]
    return bytes(out)


def _rebuild(raw: bytes, changes: dict[bytes, tuple[bytes, bytes] | None]) -> bytes:
    entries = {m.group(2): (m.group(1), m.group(3)) for m in _ENTRY.finditer(raw)}
    for name, change in changes.items():
        if change is None:
            entries.pop(name, None)
        else:
            entries[name] = change
    ordered = sorted(entries.items(),
                     key=lambda item: item[0] + b"/" if item[1][0] == TREE_MODE else item[0])
    return b"".join(b"%s %s\0%s" % (mode, name, oid) for name, (mode, oid) in ordered)


def _subtree(base: pygit2.Tree | None, name: str) -> pygit2.Tree | None:
    if base is None or name not in base:
        return None
    obj = base[name]
    return obj if isinstance(obj, pygit2.Tree) else None
