"""Which runs there are and which one a name means, and the newest events — for `dflow show`
and `dflow events --limit` before Typer — without models.

What these need of each run (its uid, its `NNNN-name`, its `last_lamport`, number, name and
branch) comes from the one run index (store/run_index.py, kept in the git dir's cache by run
tree id, shared with the store's `find_run`): after the ref moved only the runs that changed
are read. The events are read as `StateView.newest_events` reads them. An event or a
snapshot this dflow would not have written as it is (another schema, a time pydantic would
coerce, an unknown type) raises `Unusual`: the command answers
(docs/decisions/1312-events-before-typer.md).
"""

from __future__ import annotations

import functools
import json
from datetime import datetime

from ..domain.plain import EVENT_SCHEMA_VERSION
from ..store.encoding.layout import ROOT_EVENTS_DIR, events_dir
from ..store.run_index import Entry, Unusual, may_name
from ..store.run_index import run_index as index_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..store.lite import LiteView


Doc = dict[str, object]
INF = float("inf")

__all__ = ["Doc", "Entry", "Unusual", "event", "events_under",
           "find", "newest", "newest_events", "ordered", "run_id", "run_index", "view_at"]


def view_at(common: str, tip: str) -> LiteView:
    """The state tree of `tip` (one the store checked), read without pygit2 (decision 1603)."""
    from ..store.lite import LiteView

    return LiteView(common, tip)


def newest_events(common: str, tip: str, limit: int) -> tuple[list[Doc], dict[str, str]]:
    """The newest `limit` events at `tip`, oldest first, and uid -> `NNNN-name` of every run."""
    view = view_at(common, tip)
    index = run_index(common, view)
    return newest(view, index, limit), {entry[0]: run_id(entry) for entry in index.values()}


def newest(view: LiteView, index: dict[str, Entry], limit: int) -> list[Doc]:
    """The newest `limit` events, oldest first (`StateView.newest_events`' reading: a run
    without `last_lamport` counts as the newest)."""
    found = ordered(events_under(view, ROOT_EVENTS_DIR))[-limit:]
    for last, folder in sorted(((INF if entry[4] is None else entry[4], folder)
                                for folder, entry in index.items()), reverse=True):
        if len(found) >= limit and last < _lamport(found[0]):
            break
        found = ordered([*found, *events_under(view, events_dir(folder))])[-limit:]
    return found


def run_index(common: str, view: LiteView) -> dict[str, Entry]:
    """Run folder -> (uid, number, name, branch, last_lamport), for every run with a
    snapshot, from the one run index (store/run_index.py, kept by run tree id); a snapshot
    not plainly what dflow writes raises `Unusual`."""
    return index_of(view.run_dirs(), view.snapshot, common, validate=False)


def run_id(entry: Entry) -> str:
    """`NNNN-name`, as `ProtocolRun.id` words it."""
    return f"{entry[1]:04d}-{entry[2]}"


def find(index: dict[str, Entry], ref: str) -> str | None:
    """The run folder `ref` names, as `StateView.find_run` resolves it (`may_name`); None
    unless exactly one run matches."""
    if len(ref) == 26 and ref in index:
        return ref
    matches = [folder for folder, entry in index.items() if may_name(entry, ref)]
    return matches[0] if len(matches) == 1 else None


def events_under(view: LiteView, path: str) -> list[Doc]:
    """Every event in the buckets under `path`, checked and migrated as codec reads them."""
    return [event(data) for data in view.nested_files(path)]


def event(data: bytes) -> Doc:
    doc = json.loads(data)
    if not isinstance(doc, dict):
        raise Unusual("an event that is not an object")
    if doc.get("schema_version", 1) == 1:
        from ..store.encoding.migrations import event_v1_to_v2

        doc = event_v1_to_v2(dict(doc))
    elif doc.get("schema_version") != EVENT_SCHEMA_VERSION:
        raise Unusual("an event of another schema")
    at, step, run = doc.get("at"), doc.get("step"), doc.get("run")
    if not (isinstance(doc.get("id"), str) and type(doc.get("lamport")) is int
            and isinstance(doc.get("actor"), str) and isinstance(doc.get("type"), str)
            and (step is None or type(step) is int) and (run is None or isinstance(run, str))
            and isinstance(at, str) and at.endswith("Z")):
        raise Unusual("an event this dflow would not write as it is")
    if doc["type"] not in _types():
        raise Unusual(f"an event of an unknown type {doc['type']!r}")
    return {**doc, "at": datetime.fromisoformat(at)}


@functools.cache
def _types() -> frozenset[str]:
    from ..domain.eventlog.event_types import EventType

    return frozenset(kind.value for kind in EventType)


def _lamport(doc: Doc) -> int:
    value = doc["lamport"]
    assert isinstance(value, int)
    return value


def ordered(docs: list[Doc]) -> list[Doc]:
    return sorted(docs, key=lambda d: (_lamport(d), str(d["id"])))
