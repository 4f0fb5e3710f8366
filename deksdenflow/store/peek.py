"""Cheap reads for watchers: object ids instead of contents, so a change costs what changed.

The console polls these a few times a second (docs/decisions/0501-console-watches-the-ref-tip.md):
comparing tree and blob ids tells which runs moved without parsing any run that did not.
"""

from __future__ import annotations

import pygit2

from ..domain.runs.models import RunSnapshot
from .encoding import codec
from .encoding.layout import RUNS_DIR, TRACKING_PREFIX, run_snapshot_path
from .repo import Store
from .state import StateView

# {run uid: (run dir tree id, run.json blob id)} for one bucket
BucketRuns = dict[str, tuple[str, str]]
# {bucket name: (bucket tree id, its runs)}
RunIndex = dict[str, tuple[str, BucketRuns]]


def entry_id(view: StateView | None, path: str) -> str:
    """The object id at `path` in the view's tree; "" when absent."""
    if view is None or view.tree is None:
        return ""
    try:
        return str(view.tree[path].id)
    except KeyError:
        return ""


def run_index(view: StateView | None, previous: RunIndex) -> RunIndex:
    """Every run's snapshot blob id, opening only what changed since `previous`.

    An unchanged bucket tree is reused whole; in a changed bucket only the run directories
    whose tree id moved are opened (a bucket can hold a thousand runs)."""
    runs = view.subtree(RUNS_DIR) if view is not None else None
    index: RunIndex = {}
    for bucket in runs or ():
        if not isinstance(bucket, pygit2.Tree) or not bucket.name:
            continue
        known = previous.get(bucket.name, ("", {}))
        if known[0] == str(bucket.id):
            index[bucket.name] = known
            continue
        index[bucket.name] = (str(bucket.id), _bucket_runs(bucket, known[1]))
    return index


def _bucket_runs(bucket: pygit2.Tree, known: BucketRuns) -> BucketRuns:
    found: BucketRuns = {}
    for entry in bucket:
        if not isinstance(entry, pygit2.Tree) or not entry.name:
            continue
        dir_id = str(entry.id)
        seen = known.get(entry.name)
        if seen is not None and seen[0] == dir_id:
            found[entry.name] = seen
        elif "run.json" in entry:
            found[entry.name] = (dir_id, str(entry["run.json"].id))
    return found


def blob_ids(index: RunIndex) -> dict[str, str]:
    """{run uid: run.json blob id} from an index."""
    return {uid: ids[1] for _, runs in index.values() for uid, ids in runs.items()}


def snapshot_by_id(store: Store, uid: str, blob_id: str) -> RunSnapshot:
    """A run snapshot read by its blob id (found by `run_index`), with no path walk.

    Looking `runs/<bucket>/<uid>/run.json` up by path re-reads the bucket tree for every
    run; with 1,000 runs in one bucket that is most of the cost of reading them all.
    """
    blob = store.repo[blob_id]
    assert isinstance(blob, pygit2.Blob)
    return codec.load_snapshot(blob.data, run_snapshot_path(uid))


def tracking_tips(store: Store) -> dict[str, str]:
    """Tips of the remote-tracking state refs that `git fetch` keeps current."""
    tips: dict[str, str] = {}
    for name in store.repo.references:
        if name.startswith(TRACKING_PREFIX):
            ref = store.repo.references.get(name)
            if ref is not None:
                tips[name] = str(ref.target)
    return tips
