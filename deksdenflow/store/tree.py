"""Build a new tree from a base tree plus a set of path edits, touching only what changed."""

from __future__ import annotations

from typing import Union

import pygit2
from pygit2.enums import FileMode

_Node = dict[str, Union["_Node", pygit2.Oid, None]]


class TreeEdit:
    """Collects blob writes and deletions by path; `write()` returns the new root tree id.

    Blobs are written to the object database as they are put, before any tree or commit
    refers to them, so a crash at any point leaves only unreferenced objects behind.
    """

    def __init__(self, repo: pygit2.Repository, base: pygit2.Tree | None) -> None:
        self._repo = repo
        self._base = base
        self._root: _Node = {}

    def put(self, path: str, data: bytes) -> None:
        self._set(path, self._repo.create_blob(data))

    def delete(self, path: str) -> None:
        self._set(path, None)

    @property
    def is_empty(self) -> bool:
        return not self._root

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
            oid = self._repo.TreeBuilder().write()
        return oid

    def _write_node(self, base: pygit2.Tree | None, node: _Node) -> pygit2.Oid | None:
        builder = self._repo.TreeBuilder(base) if base is not None else self._repo.TreeBuilder()
        for name, value in node.items():
            if isinstance(value, dict):
                sub_base = _subtree(base, name)
                sub = self._write_node(sub_base, value)
                if sub is None:
                    _remove(builder, name)
                else:
                    builder.insert(name, sub, FileMode.TREE)
            elif value is None:
                _remove(builder, name)
            else:
                builder.insert(name, value, FileMode.BLOB)
        if len(builder) == 0:
            return None
        return builder.write()


def _subtree(base: pygit2.Tree | None, name: str) -> pygit2.Tree | None:
    if base is None or name not in base:
        return None
    obj = base[name]
    return obj if isinstance(obj, pygit2.Tree) else None


def _remove(builder: pygit2.TreeBuilder, name: str) -> None:
    if builder.get(name) is not None:
        builder.remove(name)
