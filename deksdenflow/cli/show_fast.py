"""`dflow show RUN` before Typer: the run's snapshot and events as JSON, no models.

The same `Shown` as `show_cmds.shown(detail.show(...))`, printed by the same renderer
(cli/show_text.py): the run found as `StateView.find_run` finds it (through the run index of
decision 1312), why it waits (its status line, cli/status_lines.py: the reconciler's words
as the listing keeps them), plan.md as committed on its branch, the facts from its events,
and each step commit's change counts from the cache `dflow show` fills (workflow/facts.py).
A parallel run, a step commit not measured yet, a run name that is not exactly one run's,
or anything this dflow would not have written as it is leaves the answer to the command
(docs/decisions/1313-show-before-typer.md).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ..domain import stages
from ..store import cache
from ..store.layout import events_dir, run_dir
from . import events_fast, fast
from .show_text import Shown, StepRow, review_line

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..store.lite import LiteView

RECENT_EVENTS = 20  # workflow/detail.py's
PROTOCOLS_DIR = ".protocols"  # domain/layout.py's
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
    from ..store.lite import LiteView

    view = LiteView(common, tip)
    folder = find(events_fast.run_index(common, view), ref)
    data = view.snapshot(folder) if folder is not None else None
    if folder is None or data is None:
        return None  # no such run, or several: the command says which
    doc = json.loads(data)
    if doc.get("schema_version", 1) != events_fast.SNAPSHOT_SCHEMA:
        return None
    found = shown(common, view, folder, doc)
    if found is None:
        return None
    from .show_text import render
    from .text import console

    render(console(), found)
    return ""


def find(index: dict[str, events_fast.Row], ref: str) -> str | None:
    """The run folder `ref` names, as `StateView.find_run` resolves it; None unless exactly
    one run matches."""
    if len(ref) == 26 and ref in index:
        return ref
    matches = [folder for folder, (uid, run_id, _, number, name, branch) in index.items()
               if ref in (run_id, name, branch, uid) or (ref.isdigit() and int(ref) == number)]
    return matches[0] if len(matches) == 1 else None


def shown(common: str, view: LiteView, folder: str, doc: Doc) -> Shown | None:
    run = doc["run"]
    run_id = f"{run['number']:04d}-{run['name']}"
    if run.get("parallel"):
        return None  # its graph and conflicts need git: the command draws them
    changes = _changes(common, doc)
    if changes is None:
        return None
    events = events_fast.ordered(events_fast.events_under(view, events_dir(folder)))
    path, plan = plan_text(common, run, run_id)
    waiting = _waiting(common, view, folder)
    status, paused = run.get("status", "pending"), bool(run.get("paused"))
    found = Shown(
        id=run_id, status=status, paused=paused,
        branch=run.get("branch", ""), engine=run.get("engine"),
        waiting=waiting, task=run.get("task", ""),
        blocks=list(run.get("blocks", {}).items()), plan_path=path, plan=plan,
        steps=[_step(s) for s in doc.get("steps", [])], ci=_ci(run.get("ci")),
        changes=changes, transcripts=_transcripts(view, folder, run_id),
        events=[_event_row(e) for e in events[-RECENT_EVENTS:]],
        stage=stages.stage(status, paused=paused, merged=bool(run.get("merged")),
                           waiting=bool(waiting)),
        issue=str(run.get("issue_url") or ""),
        review=[review_line(str(c.get("reviewer") or ""), str(c.get("state") or "commented"),
                            str(c.get("body") or ""), str(c.get("file") or ""),
                            c.get("line") if isinstance(c.get("line"), int) else None)
                for c in run.get("review_comments") or () if isinstance(c, dict)],
    )
    _facts(found, events)
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


def _facts(found: Shown, events: list[Doc]) -> None:
    """Notes, failures and attempts from the events (`workflow.facts.gather`'s reading)."""
    kinds = {e["id"]: (e["data"]["kind"], e.get("step"))
             for e in events if e["type"] == "job.requested"}
    for e in events:
        kind, data, step = e["type"], e.get("data", {}), e.get("step")
        if kind == "run.note" and data.get("text"):
            found.notes.append((e["at"], data.get("level", "info"), data["text"]))
        if kind == "job.failed":
            what, where = kinds.get(data["job"], ("", step))
            found.failures.append((e["at"], what, where, data.get("error", "")))
        elif kind == "step.failed" and data.get("reason"):
            found.failures.append((e["at"], "execute", step, data["reason"]))
        elif kind == "job.finished" and data.get("job") in kinds:  # facts._failures' rule
            done = kinds[data["job"]]
            found.failures = [f for f in found.failures if (f[1], f[2]) != done]
        if step is None:
            continue
        if kind == "step.finished":
            found.attempts.append((step, "execute", "finished", data.get("engine"),
                                   data.get("model"), data.get("sandboxed")))
        elif kind == "step.qa_verdict":
            found.attempts.append((step, "qa", data["verdict"], data.get("engine"),
                                   data.get("model"), data.get("sandboxed")))
        elif kind == "step.failed":
            found.attempts.append((step, "execute", "failed", None, None, None))


def _transcripts(view: LiteView, folder: str, run_id: str) -> list[str]:
    from ..domain.transcripts import numbered

    names = view.names_under(f"{run_dir(folder)}/artifacts")
    return [command for *_, command in numbered(run_id, names)]


def _changes(common: str, doc: Doc) -> list[tuple[int, int, int, int]] | None:
    """Each step commit's counts as `dflow show` measured them; None when one is not known
    (the command measures it, with git, and keeps it)."""
    steps = [s for s in doc.get("steps", []) if s.get("commit")]
    if not steps:
        return []
    branch = doc["run"].get("branch", "")
    if cache.read_ref(common, f"refs/heads/{branch}") is None:
        return None  # `diffs.change_range` refuses: the command words it
    known = cache.step_changes(common)
    if not all(s["commit"] in known for s in steps):
        return None
    return [(s["index"], *known[s["commit"]]) for s in steps]


def plan_text(common: str, run: Doc, run_id: str) -> tuple[str, str]:
    """plan.md as the plan commit holds it, else as committed on the run's local branch
    (`detail.plan_text`)."""
    from ..store.lite import LiteView

    branch = run.get("branch", "")
    path = f"{PROTOCOLS_DIR}/{branch or run_id}/plan.md"
    if not branch:
        return path, ""
    from ..store.objects import Unreadable

    planned = run.get("plan_commit")
    if planned:
        try:
            data = LiteView(common, planned).blob(path)
        except Unreadable as exc:  # not here: the command reads it through libgit2
            raise ValueError(str(exc)) from exc
        if data is not None:
            return path, data.decode("utf-8", errors="replace")
    # The recorded tip first (another clone's work, fetched by sync), as detail.plan_text.
    tip = run.get("tip")
    if isinstance(tip, str) and tip:
        try:
            data = LiteView(common, tip).blob(path)
            return path, data.decode("utf-8", errors="replace") if data is not None else ""
        except (Unreadable, KeyError, ValueError):
            pass  # not here (never fetched): the branch's copy
    commit = cache.read_ref(common, f"refs/heads/{branch}")
    if commit is None:
        raise ValueError("no local branch: the command looks at the remote-tracking ones")
    try:
        data = LiteView(common, commit).blob(path)
    except Unreadable as exc:  # not a commit: the command reads it through libgit2
        raise ValueError(str(exc)) from exc
    return path, data.decode("utf-8", errors="replace") if data is not None else ""


def _waiting(common: str, view: LiteView, folder: str) -> str:
    """The run's `waits:` note from its status line: the reconciler's words, decided once
    (by the writer that handed the line over, or here through the same function)."""
    from .status_lines import line_of_run, settings_at

    line = line_of_run(common, view, folder, lambda: settings_at(view, common))
    if line is None:
        raise ValueError(f"no status line for run {folder}")  # the command answers
    return line.waits
