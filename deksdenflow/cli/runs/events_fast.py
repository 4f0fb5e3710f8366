"""`dflow events --limit N` before Typer: the newest events' lines, no models.

The events and the names of their runs come from the read side (reads/runs.py, the run index
by tree id); this module prints the same lines as `cli/runs_cmds.events`. An event this dflow
would not have written as it is leaves the answer to the command
(docs/decisions/1312-events-before-typer.md).
"""

from __future__ import annotations

from datetime import datetime

from ...reads.runs import Doc, Unusual
from .. import fast
from ..text import DETAIL_KEYS, event_detail

# The keys `runs_cmds.event_detail` shows, for each event type whose payload has any: the
# payload's default when a file leaves one out (None: required). A test holds it to the
# payload models (domain/eventlog/payloads.py).
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


def print_fast(argv: list[str]) -> bool:
    """`dflow events --limit N` (or `-n N`), exactly; False when the command must answer."""
    if len(argv) != 3 or argv[:2] not in (["events", "--limit"], ["events", "-n"]):
        return False
    if not (argv[2].isascii() and argv[2].isdigit()) or int(argv[2]) < 1:
        return False  # Typer's `min=1` words the refusal
    return fast.run("events", lambda common, tip: _answer(common, tip, int(argv[2])))


def _answer(common: str, tip: str, limit: int) -> str:
    from ...reads.runs import newest_events

    found, names = newest_events(common, tip, limit)
    if not found:
        return "no events yet\n"
    return "".join(line(doc, names) + "\n" for doc in found)


def line(doc: Doc, names: dict[str, str]) -> str:
    """`runs_cmds.events`' line for one event."""
    where = names.get(str(doc.get("run") or ""), "-")
    step = doc.get("step")
    if isinstance(step, int):
        where += f"/{step:02d}"
    at = doc["at"]
    assert isinstance(at, datetime)
    text = detail(str(doc["type"]), doc.get("data", {}))
    return (f"{at:%Y-%m-%d %H:%M:%S}  {doc['lamport']:>5}  {where:<24} {doc['type']!s:<18} "
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
