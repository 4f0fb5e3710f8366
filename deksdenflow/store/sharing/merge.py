"""Merging two state trees: union of event files, refold of the runs they touch.

The merged tree is a function of the two input trees (and their merge base, for the few
human-edited files), never of which side is "ours": two clones that have seen the same
events build the same tree id, whichever order they synced in. See
docs/decisions/0400-merge-is-union-plus-refold.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pygit2
from pygit2.enums import FileMode

from ...domain.eventlog import fold
from ...domain.eventlog.events import Event, EventType
from ...domain.eventlog.ids import encode
from ...domain.eventlog.payloads import RunCreated, RunRenumbered
from ...domain.runs.models import Job, RunSnapshot
from ..encoding import codec
from ..encoding.layout import (
    EVENT_BUCKET_CHARS,
    META_FILE,
    ROOT_EVENTS_DIR,
    RUN_BUCKET_CHARS,
    RUNS_DIR,
    event_path,
    open_job_path,
    run_snapshot_path,
)
from ..plumbing.tree import TreeEdit

SYNC_ACTOR = "dflow:sync"
_DERIVED = {RUNS_DIR, ROOT_EVENTS_DIR, "jobs", META_FILE}

Entry = pygit2.Object | None


@dataclass
class Renumbered:
    """A run whose protocol number clashed with an earlier run's after a merge."""

    uid: str
    name: str
    branch: str
    old: int
    new: int


@dataclass
class Merged:
    tree: pygit2.Oid
    lamport: int
    runs_changed: list[str] = field(default_factory=list)
    renumbered: list[Renumbered] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def merge_trees(
    repo: pygit2.Repository, ours: pygit2.Tree, theirs: pygit2.Tree, base: pygit2.Tree | None
) -> Merged:
    """The merged state tree of `ours` and `theirs` (symmetric in the two)."""
    m = _Merger(repo)
    root = repo.TreeBuilder(ours)
    for name in sorted(_names(ours) | _names(theirs)):
        o, t, b = _get(ours, name), _get(theirs, name), _get(base, name)
        if _same(o, t) or name in _DERIVED:
            continue
        _put(root, name, m.three_way(o, t, b, name))
    runs = m.merge_runs(_get(ours, RUNS_DIR), _get(theirs, RUNS_DIR), _get(base, RUNS_DIR))
    _put(root, RUNS_DIR, runs)
    root_events = m.union(_get(ours, ROOT_EVENTS_DIR), _get(theirs, ROOT_EVENTS_DIR))
    _put(root, ROOT_EVENTS_DIR, root_events)
    merged_root = repo.get(root.write())
    assert isinstance(merged_root, pygit2.Tree)
    edit = TreeEdit(repo, merged_root)
    m.reindex_run_jobs(edit, ours)
    m.reindex_root_jobs(edit, ours, theirs, root_events)
    lamport = max(_lamport(ours), _lamport(theirs))
    lamport = max(lamport, m.resolve_number_clashes(edit, runs))
    edit.put(META_FILE, codec.dump_meta(lamport))
    return Merged(edit.write(), lamport, sorted(m.changed), m.renumbered, m.conflicts)


class _Merger:
    def __init__(self, repo: pygit2.Repository) -> None:
        self.repo = repo
        self.changed: set[str] = set()  # runs whose subtree differs from ours'
        self.snapshots: dict[str, RunSnapshot] = {}
        self.renumbered: list[Renumbered] = []
        self.conflicts: list[str] = []

    # --- generic rules ------------------------------------------------------------------

    def union(self, o: Entry, t: Entry) -> Entry:
        """Every file of both sides; event files are immutable, so a path is one content."""
        if o is None or t is None or _same(o, t):
            return o if t is None else t
        if isinstance(o, pygit2.Tree) and isinstance(t, pygit2.Tree):
            builder = self.repo.TreeBuilder(o)
            for name in _names(t):
                oe, te = _get(o, name), _get(t, name)
                if not _same(oe, te):
                    _put(builder, name, self.union(oe, te))
            return self.repo.get(builder.write())
        return _larger(o, t)

    def three_way(self, o: Entry, t: Entry, b: Entry, path: str) -> Entry:
        """A side's change wins over the base; when both changed, the larger object id (an
        arbitrary but symmetric choice) wins and the conflict is reported."""
        if _same(o, t):
            return o
        if _same(o, b):
            return t
        if _same(t, b):
            return o
        if isinstance(o, pygit2.Tree) and isinstance(t, pygit2.Tree):
            base = b if isinstance(b, pygit2.Tree) else None
            builder = self.repo.TreeBuilder()
            for name in sorted(_names(o) | _names(t)):
                merged = self.three_way(_get(o, name), _get(t, name), _get(base, name),
                                        f"{path}/{name}")
                _put(builder, name, merged)
            return self.repo.get(builder.write()) if len(builder) else None
        self.conflicts.append(path)
        if o is None or t is None:
            return o if t is None else t  # changed on one side, deleted on the other: keep
        return _larger(o, t)

    # --- runs ---------------------------------------------------------------------------

    def merge_runs(self, o: Entry, t: Entry, b: Entry) -> Entry:
        if t is None or _same(o, t):
            return o
        if o is None:
            self.changed.update(_run_uids(t))
            return t
        assert isinstance(o, pygit2.Tree) and isinstance(t, pygit2.Tree)
        builder = self.repo.TreeBuilder(o)
        for bucket in _names(t):
            ob, tb = _get(o, bucket), _get(t, bucket)
            if _same(ob, tb):
                continue
            _put(builder, bucket, self._merge_bucket(ob, tb, _get(b, bucket)))
        return self.repo.get(builder.write())

    def _merge_bucket(self, o: Entry, t: Entry, b: Entry) -> Entry:
        if o is None:
            assert isinstance(t, pygit2.Tree)
            self.changed.update(e.name for e in t if e.name)
            return t
        assert isinstance(o, pygit2.Tree) and isinstance(t, pygit2.Tree)
        builder = self.repo.TreeBuilder(o)
        for uid in _names(t):
            orun, trun = _get(o, uid), _get(t, uid)
            if _same(orun, trun):
                continue
            self.changed.add(uid)
            merged = trun if orun is None else self._merge_run(orun, trun, _get(b, uid), uid)
            _put(builder, uid, merged)
        return self.repo.get(builder.write())

    def _merge_run(self, o: Entry, t: Entry, b: Entry, uid: str) -> Entry:
        assert isinstance(o, pygit2.Tree) and isinstance(t, pygit2.Tree)
        builder = self.repo.TreeBuilder(o)
        for name in sorted(_names(o) | _names(t)):
            oe, te = _get(o, name), _get(t, name)
            if name == "run.json" or _same(oe, te):
                continue
            merged = self.union(oe, te) if name == "events" else self.three_way(
                oe, te, _get(b, name), f"{RUNS_DIR}/{uid}/{name}")
            _put(builder, name, merged)
        events_tree = _get(self.repo.get(builder.write()), "events")
        snap = fold.fold(self._events(events_tree, uid))
        if snap is not None:
            self.snapshots[uid] = snap
            builder.insert("run.json", self.repo.create_blob(codec.dump(snap)), FileMode.BLOB)
        return self.repo.get(builder.write())

    def _events(self, tree: Entry, where: str) -> list[Event]:
        found: list[Event] = []
        if not isinstance(tree, pygit2.Tree):
            return found
        for bucket in tree:
            if isinstance(bucket, pygit2.Tree):
                for entry in bucket:
                    if isinstance(entry, pygit2.Blob):
                        found.append(codec.load_event(entry.data, f"{where}/{entry.name}"))
        return found

    def snapshot(self, runs: Entry, uid: str) -> RunSnapshot | None:
        if uid in self.snapshots:
            return self.snapshots[uid]
        blob = _get(runs, f"{uid[:RUN_BUCKET_CHARS]}/{uid}/run.json")
        if not isinstance(blob, pygit2.Blob):
            return None
        snap = codec.load_snapshot(blob.data, run_snapshot_path(uid))
        self.snapshots[uid] = snap
        return snap

    # --- derived indexes ----------------------------------------------------------------

    def reindex_run_jobs(self, edit: TreeEdit, ours: pygit2.Tree) -> None:
        """jobs/open/ for every run that changed relative to ours: drop what ours had open,
        add what the merged snapshot has open."""
        ours_runs = _get(ours, RUNS_DIR)
        merged_runs = edit_tree(edit, RUNS_DIR)
        for uid in sorted(self.changed):
            before = _snapshot_at(ours_runs, uid)
            after = self.snapshot(merged_runs, uid)
            for job in before.open_jobs if before else []:
                edit.delete(open_job_path(job.id))
            for job in after.open_jobs if after else []:
                edit.put(open_job_path(job.id), codec.dump_job(job))

    def reindex_root_jobs(
        self, edit: TreeEdit, ours: pygit2.Tree, theirs: pygit2.Tree, merged: Entry
    ) -> None:
        """Jobs that belong to no run live only in jobs/open/: refold those touched."""
        ours_events = _get(ours, ROOT_EVENTS_DIR)
        if _same(ours_events, merged):
            return
        events = self._events(merged, ROOT_EVENTS_DIR)
        known = {e.id for e in self._events(ours_events, ROOT_EVENTS_DIR)}
        touched = {_job_of(e) for e in events if e.id not in known}
        by_job: dict[str, list[Event]] = {}
        for e in events:
            if _job_of(e) in touched:
                by_job.setdefault(_job_of(e), []).append(e)
        for job_id, job_events in sorted(by_job.items()):
            job = fold_job(job_events)
            if job is not None and job.is_open:
                edit.put(open_job_path(job_id), codec.dump_job(job))
            else:
                edit.delete(open_job_path(job_id))

    # --- protocol numbers ---------------------------------------------------------------

    def resolve_number_clashes(self, edit: TreeEdit, runs: Entry) -> int:
        """Protocol numbers after a merge are a function of the run.created events alone.

        Each run claims the number in its run.created; the earliest claimant by (lamport, id)
        keeps it, and every displaced run takes the next number above all claims, in creation
        order (`assign_numbers`). A displaced run carries exactly one run.renumbered event for
        its derived number, with bytes that derive from the run and the number; renumberings a
        merge made earlier from partial knowledge are replaced. So the tree depends only on the
        union of the real events, whatever order the clones merged in. Returns the highest
        lamport it used (0 if none)."""
        if not self.changed:
            return 0
        snaps = [s for s in (self.snapshot(runs, uid) for uid in _run_uids(runs)) if s]
        created = {s.run.uid: self._created(runs, s.run.uid) for s in snaps}
        assigned = assign_numbers(
            [(claimed_number(created[s.run.uid]), created[s.run.uid].order_key, s.run.uid)
             for s in snaps]
        )
        lamport = 0
        for snap in snaps:
            uid = snap.run.uid
            claimed, wanted = claimed_number(created[uid]), assigned[uid]
            if snap.run.number == claimed == wanted:
                continue  # never renumbered, and need not be
            lamport = max(lamport, self._renumber(edit, runs, snap, created[uid], wanted, claimed))
        return lamport

    def _created(self, runs: Entry, uid: str) -> Event:
        bucket = f"{uid[:RUN_BUCKET_CHARS]}/{uid}/events/{uid[:EVENT_BUCKET_CHARS]}"
        blob = _get(runs, f"{bucket}/{uid}.json")
        assert isinstance(blob, pygit2.Blob), f"run {uid} has no run.created event"
        return codec.load_event(blob.data, event_path(uid, uid))

    def _renumber(
        self, edit: TreeEdit, runs: Entry, snap: RunSnapshot, created: Event, wanted: int,
        claimed: int,
    ) -> int:
        uid = snap.run.uid
        events_tree = _get(runs, f"{uid[:RUN_BUCKET_CHARS]}/{uid}/events")
        events = self._events(events_tree, uid)
        desired = renumber_event(created, wanted) if wanted != claimed else None
        kept = [e for e in events if e.type != EventType.RUN_RENUMBERED]
        for stale in (e for e in events if e.type == EventType.RUN_RENUMBERED):
            if desired is None or stale.id != desired.id:
                edit.delete(event_path(uid, stale.id))
        if desired is not None:
            edit.put(event_path(uid, desired.id), codec.dump(desired))
            kept.append(desired)
        refolded = fold.fold(kept)
        assert refolded is not None
        if refolded != snap:
            edit.put(run_snapshot_path(uid), codec.dump(refolded))
            self.snapshots[uid] = refolded
        if snap.run.number != wanted:
            self.renumbered.append(
                Renumbered(uid, snap.run.name, snap.run.branch, snap.run.number, wanted)
            )
        return desired.lamport if desired is not None else 0


def claimed_number(created: Event) -> int:
    """The number a run was allocated where it was created (what its run.created says)."""
    return created.payload(RunCreated).number


def assign_numbers(claims: list[tuple[int, tuple[int, str], str]]) -> dict[str, int]:
    """(claimed number, run.created order key, uid) -> uid: number, unique and deterministic.

    The earliest claimant of a number keeps it; displaced runs, in creation order, take the
    smallest number nobody claimed. A run created later claims above every number it has
    seen, so it never moves a run that was renumbered before."""
    taken: set[int] = set()
    result: dict[str, int] = {}
    displaced: list[tuple[tuple[int, str], str]] = []
    for number, key, uid in sorted(claims):
        if number in taken:
            displaced.append((key, uid))
        else:
            taken.add(number)
            result[uid] = number
    candidate = 1
    for _, uid in sorted(displaced):
        while candidate in taken:
            candidate += 1
        taken.add(candidate)
        result[uid] = candidate
    return result


def renumber_event(created: Event, number: int) -> Event:
    """The run.renumbered event for a run and its new number: the same bytes on every clone.

    It sorts right after run.created (lamport + 1) and, among renumberings of one run, by
    number, so the latest (always the highest) number wins in the fold."""
    seed = hashlib.sha256(f"{created.id}:{number}".encode()).digest()
    tail = encode(int.from_bytes(seed[:8], "big"), 12)
    event_id = created.id[:10] + encode(number, 4) + tail
    return Event(
        id=event_id,
        lamport=created.lamport + 1,
        actor=SYNC_ACTOR,
        at=created.at,
        run=created.run or created.id,
        type=EventType.RUN_RENUMBERED,
        data=RunRenumbered(number=number),
    )


def fold_job(events: list[Event]) -> Job | None:
    """A run-less job from its events, skipping those that do not apply (as a Tx would)."""
    job: Job | None = None
    for event in sorted(events, key=lambda e: e.order_key):
        try:
            job = fold.apply_job(job, event)
        except fold.NotApplicable:
            continue
    return job


def edit_tree(edit: TreeEdit, path: str) -> Entry:
    """The tree at `path` in the edit's base (the edit has not been written yet)."""
    return _get(edit._base, path)  # noqa: SLF001 - same package


def _snapshot_at(runs: Entry, uid: str) -> RunSnapshot | None:
    blob = _get(runs, f"{uid[:RUN_BUCKET_CHARS]}/{uid}/run.json")
    if not isinstance(blob, pygit2.Blob):
        return None
    return codec.load_snapshot(blob.data, run_snapshot_path(uid))


def _run_uids(runs: Entry) -> list[str]:
    if not isinstance(runs, pygit2.Tree):
        return []
    return sorted(
        e.name for bucket in runs if isinstance(bucket, pygit2.Tree)
        for e in bucket if isinstance(e, pygit2.Tree) and e.name
    )


def _job_of(event: Event) -> str:
    return fold.job_id(event)


def _lamport(tree: pygit2.Tree) -> int:
    blob = _get(tree, META_FILE)
    return codec.load_meta(blob.data, META_FILE) if isinstance(blob, pygit2.Blob) else 0


def _names(tree: Entry) -> set[str]:
    return {e.name for e in tree if e.name} if isinstance(tree, pygit2.Tree) else set()


def _get(tree: Entry, path: str) -> Entry:
    if not isinstance(tree, pygit2.Tree):
        return None
    try:
        return tree[path]
    except KeyError:
        return None


def _same(a: Entry, b: Entry) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.id == b.id


def _larger(a: pygit2.Object, b: pygit2.Object) -> pygit2.Object:
    return a if str(a.id) > str(b.id) else b


def _put(builder: pygit2.TreeBuilder, name: str, entry: Entry) -> None:
    if entry is None:
        if builder.get(name) is not None:
            builder.remove(name)
        return
    mode = FileMode.TREE if isinstance(entry, pygit2.Tree) else FileMode.BLOB
    builder.insert(name, entry.id, mode)


