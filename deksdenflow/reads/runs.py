"""Which runs there are and which one a name means, and the newest events — for `dflow show`
and `dflow events --limit` before Typer — without models.

What these need of each run (its uid, its `NNNN-name`, its `last_lamport`, number, name and
branch) is a pure function of the run's tree, so it is kept in the git dir's cache by run
tree id (`run-index`): after the ref moved only the runs that changed are read. The events
are read as `StateView.newest_events` reads them. An event or a snapshot this dflow would not
have written as it is (another schema, a time pydantic would coerce, an unknown type) raises
`Unusual`: the command answers (docs/decisions/1312-events-before-typer.md).
"""

from __future__ import annotations

import functools
import json
from datetime import datetime

from ..store import cache
from ..store.layout import ROOT_EVENTS_DIR, events_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..store.lite import LiteView

RUN_INDEX = "run-index"
EVENT_SCHEMA = 2  # domain/events.py's EVENT_SCHEMA_VERSION; schema 1 is migrated as codec does
SNAPSHOT_SCHEMA = 1

Doc = dict[str, object]
INF = float("inf")
# The snapshot's uid, the run's NNNN-name, its last_lamport, number, name and branch.
Row = tuple[str, str, float, int, str, str]
INDEX_FORMAT = "2"


class Unusual(ValueError):
    """Something the command reads differently (or refuses): the command answers."""


def view_at(common: str, tip: str) -> LiteView:
    """The state tree of `tip` (one the store checked), read without pygit2 where it can."""
    from ..store.lite import LiteView

    return LiteView(common, tip)


def newest_events(common: str, tip: str, limit: int) -> tuple[list[Doc], dict[str, str]]:
    """The newest `limit` events at `tip`, oldest first, and uid -> `NNNN-name` of every run."""
    view = view_at(common, tip)
    index = run_index(common, view)
    return newest(view, index, limit), {row[0]: row[1] for row in index.values()}


def newest(view: LiteView, index: dict[str, Row], limit: int) -> list[Doc]:
    """The newest `limit` events, oldest first (`StateView.newest_events`' reading)."""
    found = ordered(events_under(view, ROOT_EVENTS_DIR))[-limit:]
    for last, folder in sorted(((row[2], folder) for folder, row in index.items()),
                               reverse=True):
        if len(found) >= limit and last < _lamport(found[0]):
            break
        found = ordered([*found, *events_under(view, events_dir(folder))])[-limit:]
    return found


def run_index(common: str, view: LiteView) -> dict[str, Row]:
    """Run folder -> its row, for every run with a snapshot; the cache brought up to date."""
    raw = cache.load(common, RUN_INDEX, f"{INDEX_FORMAT} {SNAPSHOT_SCHEMA}")
    try:
        known = json.loads(raw) if raw is not None else {}
    except ValueError:
        known = {}  # a damaged cache is rebuilt, never trusted
    kept: dict[str, list[object]] = {}
    index: dict[str, Row] = {}
    for folder, tree in view.run_dirs().items():
        row = known.get(tree) if isinstance(known, dict) else None
        if not (isinstance(row, list) and len(row) == 7 and row[0] == folder):
            row = _read_row(view, folder)
        if row is None:
            continue  # a run directory without a snapshot is not a run (yet)
        kept[tree] = row
        last, number = row[3], row[4]  # last None (unknown): the newest, as the command says
        index[folder] = (str(row[1]), str(row[2]), last if isinstance(last, int) else INF,
                         number if isinstance(number, int) else -1, str(row[5]), str(row[6]))
    if kept != known:
        cache.save(common, RUN_INDEX, f"{INDEX_FORMAT} {SNAPSHOT_SCHEMA}",
                   json.dumps(kept).encode())
    return index


def _read_row(view: LiteView, folder: str) -> list[object] | None:
    data = view.snapshot(folder)
    if data is None:
        return None
    doc = json.loads(data)
    run = doc["run"]
    number, name, uid, branch = run["number"], run["name"], run["uid"], run.get("branch", "")
    if doc.get("schema_version", 1) != SNAPSHOT_SCHEMA or type(number) is not int or not (
            isinstance(name, str) and isinstance(uid, str) and isinstance(branch, str)):
        raise Unusual(f"run {folder}: a snapshot this dflow does not read as it is")
    last = doc.get("last_lamport")  # absent: counts as the newest, as the command counts it
    if last is not None and type(last) is not int:
        raise Unusual(f"run {folder}: last_lamport is not a number")
    return [folder, uid, f"{number:04d}-{name}", last, number, name, branch]


def find(index: dict[str, Row], ref: str) -> str | None:
    """The run folder `ref` names, as `StateView.find_run` resolves it; None unless exactly
    one run matches."""
    if len(ref) == 26 and ref in index:
        return ref
    matches = [folder for folder, (uid, run_id, _, number, name, branch) in index.items()
               if ref in (run_id, name, branch, uid) or (ref.isdigit() and int(ref) == number)]
    return matches[0] if len(matches) == 1 else None


def events_under(view: LiteView, path: str) -> list[Doc]:
    """Every event in the buckets under `path`, checked and migrated as codec reads them."""
    return [event(data) for data in view.nested_files(path)]


def event(data: bytes) -> Doc:
    doc = json.loads(data)
    if not isinstance(doc, dict):
        raise Unusual("an event that is not an object")
    if doc.get("schema_version", 1) == 1:
        from ..store.migrations import event_v1_to_v2

        doc = event_v1_to_v2(dict(doc))
    elif doc.get("schema_version") != EVENT_SCHEMA:
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
    from ..domain.event_types import EventType

    return frozenset(kind.value for kind in EventType)


def _lamport(doc: Doc) -> int:
    value = doc["lamport"]
    assert isinstance(value, int)
    return value


def ordered(docs: list[Doc]) -> list[Doc]:
    return sorted(docs, key=lambda d: (_lamport(d), str(d["id"])))
