"""Reads of one state tree with pygit2 alone: no pydantic, no models, no trust walk.

For the CLI's fast read paths (`dflow status`), which call this only for a tip the store has
already verified (`cache.trusted_tip`), and which turn bytes into models only for the runs
whose directory changed (docs/decisions/1301-status-reads-only-what-changed.md).
"""

from __future__ import annotations

import pygit2

from .layout import RUN_BUCKET_CHARS, RUNS_DIR


class LiteView:
    """The tree of one commit on the state ref, with its bucket trees kept once read."""

    def __init__(self, repo: pygit2.Repository | str, tip: str) -> None:
        self.repo = pygit2.Repository(repo) if isinstance(repo, str) else repo
        commit = self.repo[tip]
        assert isinstance(commit, pygit2.Commit)
        self.tip = tip
        self.tree: pygit2.Tree = commit.tree
        self._buckets: dict[str, pygit2.Tree] = {}

    def run_dirs(self) -> dict[str, str]:
        """uid -> the id of the run's directory tree (no object but the trees is read)."""
        runs = self._entry(self.tree, RUNS_DIR)
        found: dict[str, str] = {}
        if not isinstance(runs, pygit2.Tree):
            return found
        for bucket in runs:
            if isinstance(bucket, pygit2.Tree) and bucket.name:
                self._buckets[bucket.name] = bucket
                for entry in bucket:
                    if isinstance(entry, pygit2.Tree) and entry.name:
                        found[entry.name] = str(entry.id)
        return found

    def snapshot(self, uid: str) -> bytes | None:
        """The bytes of the run's run.json."""
        bucket = self._buckets.get(uid[:RUN_BUCKET_CHARS])
        if bucket is None:
            found = self._entry(self.tree, f"{RUNS_DIR}/{uid[:RUN_BUCKET_CHARS]}")
            bucket = found if isinstance(found, pygit2.Tree) else None
        folder = self._entry(bucket, uid) if bucket is not None else None
        blob = self._entry(folder, "run.json") if isinstance(folder, pygit2.Tree) else None
        return blob.data if isinstance(blob, pygit2.Blob) else None

    def files(self, path: str) -> dict[str, bytes]:
        """name -> bytes of every file directly in the folder `path` (none: empty)."""
        tree = self._entry(self.tree, path)
        if not isinstance(tree, pygit2.Tree):
            return {}
        return {entry.name: entry.data for entry in tree
                if isinstance(entry, pygit2.Blob) and entry.name}

    def blob_id(self, path: str) -> str:
        found = self._entry(self.tree, path)
        return str(found.id) if found is not None else ""

    def blob(self, path: str) -> bytes | None:
        found = self._entry(self.tree, path)
        return found.data if isinstance(found, pygit2.Blob) else None

    @staticmethod
    def _entry(tree: pygit2.Tree, path: str) -> pygit2.Object | None:
        try:
            return tree[path]
        except KeyError:
            return None
