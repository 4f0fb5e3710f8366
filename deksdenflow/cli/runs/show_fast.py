"""`dflow show RUN` before Typer: the run as the read side reads it (reads/show.py), no models.

The same `Shown` as `show_cmds.shown(detail.show(...))`, printed by the same renderer
(cli/runs/show_text.py), filled from the run's snapshot and events as JSON, why it waits as its
status line says, plan.md as committed, and each step commit's change counts. Anything the
read side does not answer leaves it to the command (docs/decisions/1313-show-before-typer.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...domain.plain import RECENT_EVENTS
from ...domain.runs import run_facts
from ...reads.show import RunRead
from .. import fast
from . import events_fast
from .show_text import Shown, StepRow, review_line

Doc = dict[str, Any]


def print_fast(argv: list[str]) -> bool:
    """`dflow show RUN` (exactly); False when the command must answer."""
    if len(argv) != 2 or argv[0] != "show" or argv[1].startswith("-"):
        return False
    ref = argv[1]
    if not ref or ref != ref.strip():
        return False
    return fast.run("show", lambda common, tip: _answer(common, tip, ref))


def _answer(common: str, tip: str, ref: str) -> str | None:
    from ...reads.show import run_read

    read = run_read(common, tip, ref)
    if read is None:
        return None
    from ..text import console
    from .show_text import render

    render(console(), shown(read))
    return ""


def shown(read: RunRead) -> Shown:
    doc: Doc = read.doc
    run = doc["run"]
    run_id = f"{run['number']:04d}-{run['name']}"
    events: list[Doc] = read.events
    status, paused = run.get("status", "pending"), bool(run.get("paused"))
    found = Shown(
        id=run_id, status=status, paused=paused,
        branch=run.get("branch", ""), engine=run.get("engine"),
        waiting=read.waiting, task=run.get("task", ""),
        blocks=list(run.get("blocks", {}).items()), plan_path=read.plan_path, plan=read.plan,
        steps=[_step(s) for s in doc.get("steps", [])], ci=_ci(run.get("ci")),
        changes=read.changes, transcripts=read.transcripts,
        events=[_event_row(e) for e in events[-RECENT_EVENTS:]],
        stage=read.stage,
        issue=str(run.get("issue_url") or ""),
        review=[review_line(str(c.get("reviewer") or ""), str(c.get("state") or "commented"),
                            str(c.get("body") or ""), str(c.get("file") or ""),
                            c.get("line") if isinstance(c.get("line"), int) else None)
                for c in run.get("review_comments") or () if isinstance(c, dict)],
    )
    facts = [(str(e["id"]), str(e["type"]), e.get("step"), e["at"], e.get("data", {}))
             for e in events]
    found.notes = run_facts.notes(facts)
    found.failures = run_facts.failures(facts)
    found.attempts = run_facts.attempts(facts)
    return found


def _event_row(e: Doc) -> tuple[datetime, str, int | None, str, str]:
    at, kind, step = e["at"], str(e["type"]), e.get("step")
    assert isinstance(at, datetime) and (step is None or isinstance(step, int))
    return at, kind, step, str(e["actor"]), events_fast.detail(kind, e.get("data", {}))


def _step(s: Doc) -> StepRow:
    usage, qa = s.get("usage", {}), s.get("qa")
    return StepRow(s["index"], s.get("title", ""), s.get("status", "pending"),
                   s.get("attempts", 0), usage.get("input_tokens", 0)
                   + usage.get("output_tokens", 0), s.get("cost"), s.get("duration_s", 0.0),
                   s.get("engine"), s.get("commit"), qa["verdict"] if qa else None,
                   qa.get("findings", []) if qa else [])


def _ci(ci: Doc | None) -> tuple[str, str, str, str] | None:
    if ci is None:
        return None
    return ci["status"], ci.get("commit", ""), ci.get("url", ""), ci.get("excerpt", "")
