"""What `dflow workers` shows, read before Typer: the pool's record files, the open jobs' JSON
and the names of the runs they work on, no models.

From the same sources as `jobs/workers.py`: the record of every worker whose lock is held (a
dead worker's record is removed, as `scan` does), and the open jobs under `jobs/open/` on the
state ref at a tip the store checked. A record or a job that is not exactly what this dflow
writes gives None (or raises ValueError): the command answers
(docs/decisions/1310-reads-before-typer.md).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from ..domain.plain import SNAPSHOT_SCHEMA_VERSION, WORKERS_DIR, JobStatus
from ..store.encoding.layout import OPEN_JOBS_DIR

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..store.lite import LiteView

# store/encoding/codec.py's CURRENT_VERSIONS["job"] and ["snapshot"] (a test holds them equal)


def pool_at(common: str, tip: str) -> tuple[list[dict[str, object]], str, dict[str, str]] | None:
    """The live workers' records, the `queue: ...` line at `tip` and uid -> `NNNN-name` of
    the runs they work on; None: the command answers."""
    from .runs import view_at

    found = scan(os.path.join(common, "deksdenflow", WORKERS_DIR))
    if found is None:
        return None
    view = view_at(common, tip)
    queue = queue_line(view)
    if queue is None:
        return None
    return found, queue, run_ids(view, {str(w["run"]) for w in found if w.get("run")})


def scan(folder: str) -> list[dict[str, object]] | None:
    """The live workers' records, oldest first, as `jobs.workers.scan` finds them; None when
    a record is not plainly what a worker writes."""
    from ..jobs.locks import reap_if_gone

    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        info_path = os.path.join(folder, name)
        lock_path = info_path.removesuffix(".json") + ".lock"
        if reap_if_gone(info_path, lock_path):
            continue
        record = _record(info_path)
        if record is None:
            return None
        if record:
            found.append(record)
    return sorted(found, key=lambda w: (w["started"], w["worker"]))


def _record(path: str) -> dict[str, object] | None:
    """The record with its times parsed; {} when it is gone; None when it is unusual."""
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read())
    except FileNotFoundError:
        return {}
    if not isinstance(doc, dict):
        return None
    texts = all(isinstance(doc.get(k), str) for k in ("worker", "host"))
    optional = all(doc.get(k) is None or isinstance(doc[k], str) for k in ("job", "kind", "run"))
    numbers = type(doc.get("pid")) is int and (doc.get("step") is None
                                                 or type(doc["step"]) is int)
    started, since = _time(doc.get("started")), _time(doc.get("since"))
    if not (texts and optional and numbers) or started is None or since is None:
        return None
    return {**doc, "started": started, "since": since}


def _time(value: object) -> datetime | None:
    """An aware ISO time as pydantic writes it; None for anything else."""
    if not isinstance(value, str) or not value.endswith("Z"):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def queue_line(view: LiteView) -> str | None:
    """`queue: ...` from the open jobs' JSON, as `jobs.workers.queue_summary` counts them."""
    now = datetime.now(UTC)
    requested = delayed = claimed = 0
    for data in view.files(OPEN_JOBS_DIR).values():
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("schema_version") != SNAPSHOT_SCHEMA_VERSION:
            return None
        status, not_before = doc.get("status", "requested"), doc.get("not_before")
        wait = _time(not_before)
        if status not in tuple(JobStatus) or (not_before is not None and wait is None):
            return None
        if status == "claimed":
            claimed += 1
        else:
            requested += 1
            delayed += bool(wait and wait > now)
    waiting = f" ({delayed} waiting to retry)" if delayed else ""
    return f"queue: {requested} requested{waiting}, {claimed} claimed"


def run_ids(view: LiteView, uids: set[str]) -> dict[str, str]:
    """uid -> `NNNN-name` of the runs with a snapshot (as `view.runs()` names them)."""
    names = {}
    for uid in uids:
        data = view.snapshot(uid)
        if data is None:
            continue
        doc = json.loads(data)
        if doc.get("schema_version", 1) != SNAPSHOT_SCHEMA_VERSION:
            raise ValueError(f"run {uid}: a snapshot of another schema")
        number, name = doc["run"]["number"], doc["run"]["name"]
        if type(number) is not int or not isinstance(name, str):
            raise ValueError(f"run {uid}: an unusual snapshot")
        names[uid] = f"{number:04d}-{name}"
    return names

