"""What `dflow show RUN` shows of one run, read before Typer: its snapshot and events as
JSON, plan.md as committed, each step commit's change counts, its transcripts, its stage and
why it waits — no models (docs/decisions/1313-show-before-typer.md).

The run is found through the run index (reads/runs.py) as `StateView.find_run` finds it; its
stage and why it waits are its excerpt's (reads/excerpts.py: the reconciler's words as the
listing keeps them, handed over by the writer or computed through the same function). A
parallel run, a step commit not measured yet, a run name that is not exactly one run's, or
anything this dflow would not have written as it is gives None: the command answers.
"""

from __future__ import annotations

import json

from ..domain.plain import SNAPSHOT_SCHEMA_VERSION
from ..domain.runs.layout import PROTOCOLS_DIR
from ..store import cache
from ..store.encoding.layout import events_dir, run_dir
from . import runs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..store.lite import LiteView
    from .excerpts import Excerpt

Doc = dict[str, object]
Changes = list[tuple[int, int, int, int]]  # step index, files, added, deleted


class RunRead:
    """One run as `show` reads it (a plain class: the fast path avoids `dataclasses`)."""

    __slots__ = ("changes", "doc", "events", "plan", "plan_path", "stage", "transcripts",
                 "waiting")

    def __init__(self, doc: Doc, events: list[Doc], plan_path: str, plan: str,
                 changes: Changes, transcripts: list[str], excerpt: Excerpt) -> None:
        self.doc = doc  # run.json as parsed
        self.events = events  # every event of the run, ordered
        self.plan_path = plan_path
        self.plan = plan
        self.changes = changes
        self.transcripts = transcripts  # the commands that show each transcript
        self.waiting = excerpt.waits  # the `waits: ...` note, "" while the run moves
        self.stage = excerpt.stage  # the word people see (domain/runs/stages.py), decided once


def run_read(common: str, tip: str, ref: str) -> RunRead | None:
    """The run `ref` names at `tip` (a tip the store checked); None: the command answers."""
    view = runs.view_at(common, tip)
    folder = runs.find(runs.run_index(common, view), ref)
    data = view.snapshot(folder) if folder is not None else None
    if folder is None or data is None:
        return None  # no such run, or several: the command says which
    doc = json.loads(data)
    if doc.get("schema_version", 1) != SNAPSHOT_SCHEMA_VERSION:
        return None
    run = doc["run"]
    if run.get("parallel"):
        return None  # its graph and conflicts need git: the command draws them
    changes = _changes(common, doc)
    if changes is None:
        return None
    run_id = f"{run['number']:04d}-{run['name']}"
    path, plan = plan_text(common, run, run_id)
    return RunRead(doc, runs.ordered(runs.events_under(view, events_dir(folder))), path, plan,
                   changes, _transcripts(view, folder, run_id), _excerpt(common, view, folder))


def _transcripts(view: LiteView, folder: str, run_id: str) -> list[str]:
    from ..domain.runs.transcripts import numbered

    names = view.names_under(f"{run_dir(folder)}/artifacts")
    return [command for *_, command in numbered(run_id, names)]


def _changes(common: str, doc: Doc) -> Changes | None:
    """Each step commit's counts as `dflow show` measured them; None when one is not known
    (the command measures it, with git, and keeps it)."""
    steps = [s for s in doc.get("steps", []) if s.get("commit")]  # type: ignore[attr-defined]
    if not steps:
        return []
    branch = doc["run"].get("branch", "")  # type: ignore[attr-defined]
    if cache.read_ref(common, f"refs/heads/{branch}") is None:
        return None  # `diffs.change_range` refuses: the command words it
    known = cache.step_changes(common)
    if not all(s["commit"] in known for s in steps):
        return None
    return [(s["index"], *known[s["commit"]]) for s in steps]


def plan_text(common: str, run: dict[str, object], run_id: str) -> tuple[str, str]:
    """plan.md as the plan commit holds it, else as committed on the run's local branch
    (`detail.plan_text`)."""
    from ..store.lite import LiteView
    from ..store.plumbing.objects import Unreadable

    branch = str(run.get("branch", ""))
    path = f"{PROTOCOLS_DIR}/{branch or run_id}/plan.md"
    if not branch:
        return path, ""
    planned = run.get("plan_commit")
    if isinstance(planned, str) and planned:
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


def _excerpt(common: str, view: LiteView, folder: str) -> Excerpt:
    """The run's excerpt: its stage and its `waits:` note, the reconciler's words decided once
    (by the writer that handed it over, or here through the same function)."""
    from .listing import line_of_run

    found = line_of_run(common, view, folder)
    if found is None:
        raise ValueError(f"no excerpt for run {folder}")  # the command answers
    return found
