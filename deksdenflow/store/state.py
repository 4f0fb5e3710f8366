"""Read-only view of the state tree at one commit. Reads use snapshots, never replay."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pygit2

from ..domain.config.settings import ProjectSettings
from ..domain.eventlog.events import Event, ordered
from ..domain.runs.models import Job, RunSnapshot
from ..errors import RunNotFound, UsageError, did_you_mean
from .encoding import codec
from .encoding.layout import (
    META_FILE,
    OPEN_JOBS_DIR,
    PROJECT_FILE,
    ROOT_EVENTS_DIR,
    RUN_BUCKET_CHARS,
    RUNS_DIR,
    STATE_REF,
    artifact_path,
    events_dir,
    run_snapshot_path,
)
from .run_index import Entry, may_name, run_index


class StateView:
    """The state as of one commit on the state ref (or an empty state before init)."""

    def __init__(self, repo: pygit2.Repository, commit: pygit2.Commit | None,
                 parsed: dict[str, ProjectSettings] | None = None,
                 effective: Callable[[str], ProjectSettings] | None = None) -> None:
        self.repo = repo
        self.commit = commit
        self.tree: pygit2.Tree | None = commit.tree if commit is not None else None
        self._settings: ProjectSettings | None = None
        # project.toml settings by blob id, shared by the views of one store: tomlkit takes
        # ~4 ms per parse, and every write reads the settings (redaction's secret names).
        self._parsed = parsed if parsed is not None else {}
        self._effective = effective
        self._subtrees: dict[str, pygit2.Tree | None] = {}
        self._run_index: dict[str, Entry] | None = None

    @property
    def tip(self) -> str | None:
        return str(self.commit.id) if self.commit is not None else None

    # --- raw access ---------------------------------------------------------------------

    def blob(self, path: str) -> bytes | None:
        folder, _, name = path.rpartition("/")
        tree = self.subtree(folder) if folder else self.tree
        if tree is None:
            return None
        try:
            obj = tree[name]
        except KeyError:
            return None
        return obj.data if isinstance(obj, pygit2.Blob) else None

    def subtree(self, path: str) -> pygit2.Tree | None:
        # Trees are immutable: keep the ones looked up, so that reading many files of one
        # directory (jobs/open/, say) inflates that directory's tree object once.
        if self.tree is None:
            return None
        if path in self._subtrees:
            return self._subtrees[path]
        try:
            obj = self.tree[path]
        except KeyError:
            obj = None
        found = obj if isinstance(obj, pygit2.Tree) else None
        self._subtrees[path] = found
        return found

    # --- project --------------------------------------------------------------------------

    @property
    def lamport(self) -> int:
        data = self.blob(META_FILE)
        return codec.load_meta(data, META_FILE) if data is not None else 0

    def check_versions(self, checked: set[str] | None = None) -> None:
        """Raise NewerSchema when the ref was written by a newer dflow (before any write).

        meta.json is tiny JSON and changes with every commit: always checked. project.toml
        rarely changes and tomlkit is slow, so each of its blob ids is parsed once per store
        (`checked`, the store's own set); this keeps tomlkit off the write path of every job
        claim and finish."""
        _ = self.lamport
        key = self._blob_id(PROJECT_FILE)
        if key is None or (checked is not None and key in checked):
            return
        codec.settings_doc(self.project_text(), f"{PROJECT_FILE} on {STATE_REF}")
        if checked is not None:
            if len(checked) > 1024:
                checked.clear()
            checked.add(key)

    def _blob_id(self, path: str) -> str | None:
        if self.tree is None:
            return None
        try:
            return str(self.tree[path].id)
        except KeyError:
            return None

    def project_text(self) -> str:
        data = self.blob(PROJECT_FILE)
        return data.decode() if data is not None else ""

    def settings(self) -> ProjectSettings:
        """The effective settings of this view's project.toml where the store has an owner
        of them (`Store.settings_of`: user config and DFLOW_* included), else project.toml
        alone (a bare store, as the trust checks and tests open it)."""
        if self._effective is not None:
            return self._effective(self.project_text())
        if self._settings is None:
            key = self._blob_id(PROJECT_FILE)
            cached = self._parsed.get(key) if key is not None else None
            if cached is None:
                text = self.project_text()
                cached = (codec.load_settings(text, f"{PROJECT_FILE} on {STATE_REF}")
                          if text else ProjectSettings())
                if key is not None:
                    if len(self._parsed) > 64:
                        self._parsed.clear()
                    self._parsed[key] = cached
            self._settings = cached  # shared: read-only, like Project.settings()
        return self._settings

    # --- runs -----------------------------------------------------------------------------

    def run_uids(self) -> Iterator[str]:
        runs = self.subtree(RUNS_DIR)
        if runs is None:
            return
        for bucket in runs:
            if isinstance(bucket, pygit2.Tree):
                for entry in bucket:
                    if isinstance(entry, pygit2.Tree) and entry.name:
                        yield entry.name

    def run_versions(self) -> dict[str, str]:
        """uid -> the id of the run's directory tree, which changes whenever anything of the
        run does: a cheap way (no object is inflated) to see which runs moved between tips."""
        runs = self.subtree(RUNS_DIR)
        versions: dict[str, str] = {}
        for bucket in runs or ():
            if isinstance(bucket, pygit2.Tree):
                for entry in bucket:
                    if isinstance(entry, pygit2.Tree) and entry.name:
                        versions[entry.name] = str(entry.id)
        return versions

    def snapshot_data(self, uid: str) -> bytes | None:
        """A run's run.json as stored, through its (cached) bucket tree."""
        bucket = self.subtree(f"{RUNS_DIR}/{uid[:RUN_BUCKET_CHARS]}")
        try:
            folder = bucket[uid] if bucket is not None else None
            blob = folder["run.json"] if isinstance(folder, pygit2.Tree) else None
        except KeyError:
            return None
        return blob.data if isinstance(blob, pygit2.Blob) else None

    def run(self, uid: str) -> RunSnapshot | None:
        # Through the (cached) bucket tree: resolving the full path from the root would
        # re-read the bucket for every run, which made runs() quadratic in runs per bucket.
        bucket = self.subtree(f"{RUNS_DIR}/{uid[:RUN_BUCKET_CHARS]}")
        return _snapshot_in(bucket, uid) if bucket is not None else None

    def runs(self) -> list[RunSnapshot]:
        runs = self.subtree(RUNS_DIR)
        snaps = []
        for bucket in runs or ():
            if isinstance(bucket, pygit2.Tree):
                for entry in bucket:
                    snap = _snapshot_in(bucket, entry.name) if entry.name else None
                    if snap is not None:
                        snaps.append(snap)
        return sorted(snaps, key=lambda s: (s.run.number, s.run.uid))

    def snapshot_docs(self) -> list[dict[str, Any]]:
        """Every run's snapshot as plain JSON (migrated on read, not built into models): for
        aggregate reads (`dflow metrics`, `dflow report`), where validating 1,000 models
        costs far more than the figures drawn from them."""
        runs = self.subtree(RUNS_DIR)
        docs = []
        for bucket in runs or ():
            if not isinstance(bucket, pygit2.Tree):
                continue
            for entry in bucket:
                blob = entry["run.json"] if isinstance(entry, pygit2.Tree) else None
                if isinstance(blob, pygit2.Blob) and entry.name:
                    path = run_snapshot_path(entry.name)
                    docs.append(codec.upgrade("snapshot", codec.load_json(blob.data, path), path))
        return docs

    def find_run(self, ref: str) -> RunSnapshot:
        """Resolve what a user typed: `0001-name`, `1`, `name`, a branch, or a uid."""
        ref = ref.strip()
        if not ref:
            raise UsageError("name a protocol run (for example 0001-add-login)")
        direct = self.run(ref) if len(ref) == 26 else None
        if direct is not None:
            return direct
        # Only the runs whose number, name or branch can be `ref` (run_keys: from the cache
        # by run tree id) are validated, and decided on the model; a miss reads them all, for
        # the suggestion.
        matches = [s for s in self._candidates(ref) if _matches(s, ref)]
        if len(matches) == 1:
            return matches[0]
        # A name reused after its run was merged or cancelled (decision 1578) means the one
        # run of that name still open; the finished ones keep their full id.
        open_runs = [s for s in matches if ref == s.run.name and not _finished(s)]
        if len(open_runs) == 1 and all(ref == s.run.name for s in matches):
            return open_runs[0]
        if not matches:
            every = self.runs()
            raise RunNotFound(f"no protocol run '{ref}'{_did_you_mean(ref, every)}; "
                              "`dflow status` lists them")
        ids = ", ".join(s.run.id for s in matches)
        raise UsageError(f"'{ref}' names several protocol runs ({ids}); use the full id")

    def run_index(self) -> dict[str, Entry]:
        """Run folder -> (uid, number, name, branch, last_lamport) of every run at this tip,
        in the tree's order: what names a run and where its newest event is, without reading
        1,000 snapshots (store/run_index.py, the one run index)."""
        if self._run_index is None:
            from .repo import common_dir  # why: repo imports this module

            try:
                common: str | None = str(common_dir(self.repo))
            except OSError:
                common = None
            self._run_index = run_index(self.run_versions(), self.snapshot_data, common,
                                        validate=True)
        return self._run_index

    def run_keys(self) -> dict[str, tuple[int, str, str]]:
        """uid -> (number, name, branch) of every run at this tip (the run index's)."""
        return {uid: (number, name, branch)
                for uid, (_, number, name, branch, _) in self.run_index().items()}

    def run_names(self) -> dict[str, tuple[int, str]]:
        """uid -> (number, name) of every run at this tip (`dflow new`: the next number, a
        name already taken), from `run_keys`."""
        return {uid: (number, name) for uid, (number, name, _) in self.run_keys().items()}

    def _candidates(self, ref: str) -> list[RunSnapshot]:
        found = []
        for uid, entry in self.run_index().items():
            if may_name(entry, ref):
                snap = self.run(uid)
                if snap is not None:
                    found.append(snap)
        return found

    def newest_events(self, limit: int) -> list[Event]:
        """The newest `limit` events of the whole state, oldest first, reading only the runs
        that can hold one: a run's snapshot records the highest Lamport time among its events
        (`last_lamport`), so runs are read newest first until the next cannot beat the
        `limit`-th newest event found so far."""
        found = ordered(self.root_events())[-limit:]
        unknown = float("inf")  # a run without `last_lamport` counts as the newest
        runs = sorted(((unknown if last is None else last, uid)
                       for uid, (*_, last) in self.run_index().items()), reverse=True)
        for last, uid in runs:
            if len(found) >= limit and last < found[0].lamport:
                break
            found = ordered([*found, *self.run_events(uid)])[-limit:]
        return found

    def run_events(self, uid: str) -> list[Event]:
        return self._events_under(events_dir(uid))

    def root_events(self) -> list[Event]:
        return self._events_under(ROOT_EVENTS_DIR)

    def _events_under(self, path: str) -> list[Event]:
        tree = self.subtree(path)
        if tree is None:
            return []
        events = []
        for bucket in tree:
            if isinstance(bucket, pygit2.Tree):
                for entry in bucket:
                    if isinstance(entry, pygit2.Blob):
                        name = f"{path}/{bucket.name}/{entry.name}"
                        events.append(codec.load_event(entry.data, name))
        return ordered(events)

    def artifact(self, run_uid: str, name: str) -> bytes | None:
        return self.blob(artifact_path(run_uid, name))

    def artifact_names(self, run_uid: str) -> list[str]:
        tree = self.subtree(artifact_path(run_uid, "").rstrip("/"))
        return _walk_names(tree, "") if tree is not None else []

    # --- jobs -----------------------------------------------------------------------------

    def open_jobs(self) -> list[Job]:
        tree = self.subtree(OPEN_JOBS_DIR)
        if tree is None:
            return []
        jobs = [
            codec.load_job(e.data, f"{OPEN_JOBS_DIR}/{e.name}")
            for e in tree
            if isinstance(e, pygit2.Blob)
        ]
        return sorted(jobs, key=lambda j: j.id)

    def open_job(self, job_id: str) -> Job | None:
        path = f"{OPEN_JOBS_DIR}/{job_id}.json"
        data = self.blob(path)
        return codec.load_job(data, path) if data is not None else None


def _snapshot_in(bucket: pygit2.Tree, uid: str) -> RunSnapshot | None:
    try:
        folder = bucket[uid]
        blob = folder["run.json"] if isinstance(folder, pygit2.Tree) else None
    except KeyError:
        return None
    if not isinstance(blob, pygit2.Blob):
        return None
    return codec.load_snapshot(blob.data, run_snapshot_path(uid))


def _finished(snap: RunSnapshot) -> bool:
    return snap.run.merged or snap.run.status.value == "cancelled"


def _matches(snap: RunSnapshot, ref: str) -> bool:
    run = snap.run
    if ref in (run.id, run.name, run.branch, run.uid):
        return True
    return ref.isdigit() and int(ref) == run.number


def _walk_names(tree: pygit2.Tree, prefix: str) -> list[str]:
    names: list[str] = []
    for entry in tree:
        if isinstance(entry, pygit2.Tree):
            names.extend(_walk_names(entry, f"{prefix}{entry.name}/"))
        else:
            names.append(f"{prefix}{entry.name}")
    return names


def _did_you_mean(ref: str, snaps: list[RunSnapshot]) -> str:
    """` (did you mean '0001-add-login'?)` for a near miss of a run's id or name."""
    names = {s.run.id: s.run.id for s in snaps} | {s.run.name: s.run.id for s in snaps}
    return did_you_mean(ref.lower(), names)
