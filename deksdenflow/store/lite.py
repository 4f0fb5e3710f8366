"""Reads of one state tree without pydantic, models or the trust walk — and without pygit2.

For the read side's fast paths (`dflow status`, deksdenflow/reads), which call this only for
a tip the store has already verified (`cache.trusted_tip`), and which turn bytes into models
only for the runs whose directory changed (docs/decisions/1301-status-reads-only-what-changed.md).
Given a git dir, objects are read by the pure-Python reader (store/plumbing/objects.py) and nothing
else: when it gives up (a SHA-256 repository, alternates, a damaged pack, ...) `Unreadable`
goes up and the fast path leaves the answer to the full command, which reads through libgit2
(docs/decisions/1303, 1603). Given a libgit2 repository (a writer handing its excerpts over,
the full path's listing), it reads through that one: one object reader per job.
"""

from __future__ import annotations

from .encoding.layout import RUN_BUCKET_CHARS, RUNS_DIR
from .plumbing.objects import TREE_MODE, ObjectReader, Unreadable, commit_tree, tree_entries

TYPE_CHECKING = False
if TYPE_CHECKING:
    import pygit2

Entries = dict[str, tuple[bytes, str]]  # name -> (mode, hex id)
_BLOB_MODES = (b"100644", b"100755", b"120000")


class _Libgit2:
    """The same reads through a libgit2 repository the caller has open."""

    def __init__(self, repo: pygit2.Repository) -> None:
        self.repo = repo

    def read(self, oid: str) -> tuple[str, bytes]:
        obj = self.repo[oid]
        return obj.type_str, obj.read_raw()

    def entry(self, tree_id: str, path: str) -> tuple[bytes, str] | None:
        """(mode, id) at `path` below the tree, looked up by libgit2 (a big bucket tree is
        not parsed in Python)."""
        try:
            found = self.repo[tree_id][path]  # type: ignore[index]
        except KeyError:
            return None
        return b"%o" % found.filemode, str(found.id)


class LiteView:
    """The tree of one commit on the state ref, with the trees it read kept."""

    def __init__(self, repo: pygit2.Repository | str, tip: str) -> None:
        self._source: ObjectReader | _Libgit2
        # A git dir: the pure-Python reader only (it raises Unreadable where it gives up);
        # a libgit2 repository: the caller reads through libgit2 already.
        self._source = ObjectReader(repo) if isinstance(repo, str) else _Libgit2(repo)
        self.tip = tip
        kind, data = self._read(tip)
        if kind != "commit":
            raise Unreadable(f"the state ref's tip {tip} is a {kind}, not a commit")
        self.tree_id = commit_tree(data)
        self._trees: dict[str, Entries] = {}

    @property
    def uses_libgit2(self) -> bool:
        return isinstance(self._source, _Libgit2)

    def run_dirs(self) -> dict[str, str]:
        """uid -> the id of the run's directory tree (no object but the trees is read)."""
        runs = self._entry(RUNS_DIR)
        found: dict[str, str] = {}
        if runs is None or runs[0] != TREE_MODE:
            return found
        for bucket, (mode, oid) in self._tree(runs[1]).items():
            if mode == TREE_MODE and bucket:
                for name, (kind, run) in self._tree(oid).items():
                    if kind == TREE_MODE and name:
                        found[name] = run
        return found

    def snapshot(self, uid: str) -> bytes | None:
        """The bytes of the run's run.json."""
        return self.blob(f"{RUNS_DIR}/{uid[:RUN_BUCKET_CHARS]}/{uid}/run.json")

    def files(self, path: str) -> dict[str, bytes]:
        """name -> bytes of every file directly in the folder `path` (none: empty)."""
        folder = self._entry(path)
        if folder is None or folder[0] != TREE_MODE:
            return {}
        found = {}
        for name, (mode, oid) in self._tree(folder[1]).items():
            if mode in _BLOB_MODES and name:
                kind, data = self._read(oid)
                if kind == "blob":
                    found[name] = data
        return found

    def nested_files(self, path: str) -> list[bytes]:
        """The bytes of every file one folder below `path` (its buckets), in tree order."""
        folder = self._entry(path)
        if folder is None or folder[0] != TREE_MODE:
            return []
        found = []
        for mode, bucket in self._tree(folder[1]).values():
            if mode != TREE_MODE:
                continue
            for kind_of_entry, oid in self._tree(bucket).values():
                if kind_of_entry in _BLOB_MODES:
                    kind, data = self._read(oid)
                    if kind == "blob":
                        found.append(data)
        return found

    def names_under(self, path: str) -> list[str]:
        """Every entry below the folder `path`, as a path relative to it (folders walked;
        `StateView.artifact_names`' listing)."""
        folder = self._entry(path)
        return self._walk(folder[1], "") if folder is not None and folder[0] == TREE_MODE else []

    def _walk(self, oid: str, prefix: str) -> list[str]:
        names: list[str] = []
        for name, (mode, child) in self._tree(oid).items():
            if mode == TREE_MODE:
                names.extend(self._walk(child, f"{prefix}{name}/"))
            else:
                names.append(f"{prefix}{name}")
        return names

    def blob_id(self, path: str) -> str:
        found = self._entry(path)
        return found[1] if found is not None else ""

    def blob(self, path: str) -> bytes | None:
        found = self._entry(path)
        if found is None or found[0] not in _BLOB_MODES:
            return None
        kind, data = self._read(found[1])
        return data if kind == "blob" else None

    def entry_id(self, path: str) -> str:
        """The id of the tree or blob at `path`; "" when absent."""
        return self.blob_id(path)

    def _entry(self, path: str) -> tuple[bytes, str] | None:
        """(mode, id) of the entry at `path`, or None."""
        if isinstance(self._source, _Libgit2):
            return self._source.entry(self.tree_id, path)
        found: tuple[bytes, str] | None = (TREE_MODE, self.tree_id)
        for name in path.split("/"):
            if found is None or found[0] != TREE_MODE:
                return None
            found = self._tree(found[1]).get(name)
        return found

    def _tree(self, oid: str) -> Entries:
        entries = self._trees.get(oid)
        if entries is None:
            kind, data = self._read(oid)
            entries = tree_entries(data) if kind == "tree" else {}
            self._trees[oid] = entries
        return entries

    def _read(self, oid: str) -> tuple[str, bytes]:
        return self._source.read(oid)
