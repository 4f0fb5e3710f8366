"""`dflow events --limit N` before Typer: the newest events' JSON, no models.

The same reading as `StateView.newest_events` (the root events, then runs newest first by
their snapshot's `last_lamport` until the next cannot beat the N-th newest event found), and
the same lines as `cli/runs_cmds.events`. What the listing needs of each run (its uid, its
`NNNN-name`, its `last_lamport`) is a pure function of the run's tree, so it is kept in the
git dir's cache by run tree id (`run-index`): after the ref moved only the runs that changed
are read. An event this dflow would not have written as it is (another schema, a time
pydantic would coerce, an unknown type) leaves the answer to the command
(docs/decisions/1312-events-before-typer.md).
"""

from __future__ import annotations

import functools
import json
from datetime import datetime

from ..store import cache
from ..store.layout import ROOT_EVENTS_DIR, events_dir
from . import fast
from .text import DETAIL_KEYS, event_detail

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..store.lite import LiteView

RUN_INDEX = "run-index"
EVENT_SCHEMA = 2  # domain/events.py's EVENT_SCHEMA_VERSION; schema 1 is migrated as codec does
SNAPSHOT_SCHEMA = 1
# The keys `runs_cmds.event_detail` shows, for each event type whose payload has any: the
# payload's default when a file leaves one out (None: required). A test holds it to the
# payload models (domain/payloads.py).
DETAIL_FIELDS: dict[str, dict[str, str | None]] = {
    "run.created": {"name": "", "issue_url": ""},
    "run.planned": {"summary": ""},
    "run.plan_failed": {"reason": "planning failed"},
    "run.cancelled": {"reason": ""},
    "run.failed": {"reason": ""},
    "run.blocked": {"reason": ""},
    "run.pr_opened": {"url": ""},
    "run.ci_reported": {"status": "", "url": ""},
    "run.note": {"text": "", "summary": ""},
    "run.budget_alert": {"text": None},
    "step.finished": {"summary": ""},
    "step.failed": {"reason": ""},
    "step.qa_verdict": {"verdict": None, "summary": ""},
    "step.retried": {"reason": ""},
    "step.blocked": {"reason": ""},
    "job.requested": {"kind": None},
    "project.setup": {"status": None},
}

Doc = dict[str, object]
INF = float("inf")
# The snapshot's uid, the run's NNNN-name, its last_lamport, number, name and branch.
Row = tuple[str, str, float, int, str, str]
INDEX_FORMAT = "2"


class Unusual(ValueError):
    """Something the command reads differently (or refuses): the command answers."""


def print_fast(argv: list[str]) -> bool:
    """`dflow events --limit N` (or `-n N`), exactly; False when the command must answer."""
    if len(argv) != 3 or argv[:2] not in (["events", "--limit"], ["events", "-n"]):
        return False
    if not (argv[2].isascii() and argv[2].isdigit()) or int(argv[2]) < 1:
        return False  # Typer's `min=1` words the refusal
    return fast.run("events", lambda common, tip: _answer(common, tip, int(argv[2])))


def _answer(common: str, tip: str, limit: int) -> str:
    from ..store.lite import LiteView

    view = LiteView(common, tip)
    index = run_index(common, view)
    found = newest(view, index, limit)
    if not found:
        return "no events yet\n"
    names = {row[0]: row[1] for row in index.values()}
    return "".join(line(doc, names) + "\n" for doc in found)


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


def line(doc: Doc, names: dict[str, str]) -> str:
    """`runs_cmds.events`' line for one event."""
    where = names.get(str(doc.get("run") or ""), "-")
    step = doc.get("step")
    if isinstance(step, int):
        where += f"/{step:02d}"
    at = doc["at"]
    assert isinstance(at, datetime)
    text = detail(str(doc["type"]), doc.get("data", {}))
    return (f"{at:%Y-%m-%d %H:%M:%S}  {_lamport(doc):>5}  {where:<24} {doc['type']!s:<18} "
            f"{doc['actor']}{'  ' + text if text else ''}")


def detail(kind: str, data: object) -> str:
    """`runs_cmds.event_detail` of the payload's JSON, from the file's data."""
    if not isinstance(data, dict):
        raise Unusual("an event whose data is not an object")
    fields = DETAIL_FIELDS.get(kind, {})
    shown: dict[str, object] = {}
    for key in DETAIL_KEYS:
        if key not in fields:
            if key in data:
                raise Unusual(f"{kind} has no {key}")  # the payload model refuses it
            continue
        value = data.get(key, fields[key])
        if not isinstance(value, str):
            raise Unusual(f"{kind}'s {key} is not text")
        shown[key] = value
    return event_detail(shown)
