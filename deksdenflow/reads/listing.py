"""The listing of every run (`dflow status`, `dflow status --json`), rebuilt only where it moved.

Each run's line (its table row, its "waits" note and its JSON text) is a pure function of the
run's directory tree and the effective settings, so it is kept in the git dir's cache keyed by
the run's tree id, under a key made of what the settings depend on (project.toml's blob id,
the DFLOW_* variables, the user config file, this machine's trust record). After the ref
moves, only the runs whose tree changed are parsed into models; the others cost one small
JSON row each (docs/decisions/1301-status-reads-only-what-changed.md). A changed run's line
comes from the writer's journal when it handed one over (decision 1304).

`dflow status --json`'s whole text is kept too (reads/hit.py).
"""

from __future__ import annotations

import itertools
import json

from ..store import cache
from . import hit
from .excerpts import LINES, Excerpt, handed_over, line_of, row
from .excerpts import settings_key as _settings_key

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..context.project import Project
    from ..domain.config.settings import ProjectSettings
    from ..store import StateView
    from ..store.lite import LiteView
    from ..workflow.lifecycle.runs import StatusReport

HANDED_UNSAVED = 32  # journaled lines a listing uses before it folds them into its cache


def lines(common: str, view: LiteView, settings: Callable[[], ProjectSettings]) -> list[Excerpt]:
    """Every run's line at the view's tip, ordered by number; the cache is brought up to date.
    A changed run's line comes from the writer's journal when it handed one over (decision
    1304), else it is computed here."""
    key = settings_key(view, common)
    dirs = view.run_dirs()
    known = _load(common, key)
    found = {tree: known[tree] for tree in dirs.values() if tree in known}
    stale = len(known) - len(found)  # older trees of runs that moved (or runs that went)
    missing = {uid: tree for uid, tree in dirs.items() if tree not in found}
    handed: dict[str, Excerpt] = {}
    if missing:
        handed = handed_over(common, key, set(missing.values()))
        found.update({tree: handed[tree] for tree in missing.values() if tree in handed})
        missing = {uid: tree for uid, tree in missing.items() if tree not in found}
    if missing:
        found.update(_compute(view, missing, settings()))
    # Lines the journal holds need not be saved yet: rewriting the whole cache is most of a
    # listing's writes. What was computed, a run that went, or many journaled lines are.
    if missing or stale > len(handed) or len(handed) > HANDED_UNSAVED:
        _save(common, key, found)
    return sorted(found.values(), key=lambda line: (line.number, line.uid))


def line_of_run(common: str, view: LiteView, uid: str) -> Excerpt | None:
    """One run's line, as `lines` has it: from the listing's cache, else the writer's
    journal, else computed through the reconciler (`show` tells why a run waits from it, so
    that one function decides it); None when there is no such run."""
    tree = view.run_dirs().get(uid)
    if tree is None:
        return None
    key = settings_key(view, common)
    found = _load(common, key).get(tree) or handed_over(common, key, {tree}).get(tree)
    if found is not None:
        return found
    return _compute(view, {uid: tree}, settings_at(view, common)).get(tree)


def at_tip(common: str) -> list[Excerpt] | None:
    """Every run's line at the checked tip; None when the regular command must answer (not
    initialised, a tip moved behind the store's back, a state it words better)."""
    found = _at_checked_tip(common)
    return None if found is None else found[1]


def _at_checked_tip(common: str) -> tuple[str, list[Excerpt]] | None:
    """(the tip, every run's line at it): a worker may commit while the lines are made, so
    whatever is kept for them is kept under this tip, never the ref read again."""
    from ..errors import DflowError
    from ..store.plumbing.objects import Unreadable

    tip = cache.read_tip(common)
    if tip is None or cache.trusted_tip(common) != tip:
        return None  # not initialised, or moved behind the store's back: Store.read checks
    try:
        from ..store.lite import LiteView

        view = LiteView(common, tip)
        return tip, lines(common, view, lambda: settings_at(view, common))
    except (DflowError, Unreadable):
        return None  # the command says it properly


def listed(project: Project, view: StateView | None = None) -> list[Excerpt]:
    """Every run's line at the tip `project` reads now (verified by the store)."""
    from ..store.lite import LiteView

    view = view or project.view()
    if view.tip is None:
        return []
    return lines(str(project.store.git_dir), LiteView(project.store.repo, view.tip),
                 lambda: project.settings(view))


def status_report(project: Project) -> StatusReport:
    """Every run's `RunLine` as its excerpt holds it (the objects `status --json` prints):
    what the HTTP API and the MCP tools list, computed once per run tree and settings stamp
    by the one function, never again per request."""
    from ..workflow.lifecycle.runs import RunLine, StatusReport

    return StatusReport(runs=[RunLine.model_validate_json(found.fragment)
                              for found in listed(project)])


def settings_key(view: LiteView, common: str) -> str:
    """What the effective settings at the view's tip depend on (reads/excerpts.py)."""
    return _settings_key(view.blob_id("project.toml"), common)


def settings_at(view: LiteView, common: str) -> ProjectSettings:
    """The effective settings at the view's tip (project.toml there, the user config, the
    DFLOW_* variables, this machine's trust record)."""
    from ..context import config

    data = view.blob("project.toml")
    return config.resolve(data.decode() if data is not None else "", trust_dir=common).settings


def _compute(view: LiteView, missing: dict[str, str],
             settings: ProjectSettings) -> dict[str, Excerpt]:
    found = {}
    for uid, tree in missing.items():
        data = view.snapshot(uid)
        if data is None:
            continue  # a run directory without a snapshot is not a run (yet)
        found[tree] = line_of(data, uid, settings)
    return found


# --- the per-run cache: one framed record per run tree ---------------------------------------


def _save(common: str, key: str, found: dict[str, Excerpt]) -> None:
    """One JSON line {tree id: [row..., offset, length]}, then every run's JSON text (offsets
    and lengths in bytes). Built and written piece by piece: with 10,000 runs one `json.dumps`
    of the index, or the body joined, would each cost tens of MB at once."""
    rows: list[str] = []
    at = 0
    for tree, line in found.items():
        text = line.fragment
        size = len(text) if text.isascii() else len(text.encode())
        entry = json.dumps([*row(line), at, size], ensure_ascii=False, separators=(",", ":"))
        rows.append(f'"{tree}":{entry}')  # a tree id is hex: nothing to escape
        at += size
    head = "{" + ",".join(rows) + "}\n"
    del rows
    parts = (line.fragment.encode() for line in found.values())
    cache.save(common, LINES, key, itertools.chain([head.encode()], parts))


def _load(common: str, key: str) -> dict[str, Excerpt]:
    raw = cache.load(common, LINES, key)
    if raw is None:
        return {}
    try:
        body = raw.index(b"\n") + 1
        index = json.loads(raw[:body])
        if sum(row[-1] for row in index.values()) != len(raw) - body:
            return {}  # cut short or grown: a damaged cache is rebuilt, never trusted
        found = {}
        for tree, row in index.items():
            start = body + row[-2]
            values = [*row[:-2], raw[start:start + row[-1]].decode()]
            found[tree] = Excerpt(*values)
        return found
    except (ValueError, TypeError, UnicodeDecodeError, AttributeError, IndexError):
        return {}  # a damaged cache is rebuilt, never trusted


# --- `status --json`'s whole text, by tip ----------------------------------------------------


def listing_json(found: list[Excerpt]) -> str:
    """What pydantic prints for StatusReport(runs=[...]) with indent=2, from the runs' own
    indented texts."""
    if not found:
        return '{\n  "runs": []\n}'
    body = ",\n".join("    " + line.fragment.replace("\n", "\n    ") for line in found)
    return '{\n  "runs": [\n' + body + "\n  ]\n}"


def json_at_tip(common: str, refs: str) -> str | None:
    """`status --json`'s text at the checked tip, kept for the next call while the refs are
    still `refs` (as before the implicit sync); None: the command answers."""
    found = _at_checked_tip(common)
    if found is None:
        return None
    tip, excerpts = found
    text = listing_json(excerpts)
    hit.keep_json(common, tip, refs, text)
    return text


def json_text(project: Project) -> str:
    """The listing's JSON text for the tip `project` reads now; stores it for the next call."""
    common = str(project.store.git_dir)
    # Keyed by the refs as they were before the implicit sync (cli/app.py) ran: if a fetch
    # moved a tracking ref since, the key no longer matches and nothing is stored.
    refs = hit.refs_at_start if hit.refs_at_start is not None else cache.refs_key(common)
    view = project.view()
    text = listing_json(listed(project, view))
    hit.keep_json(common, view.tip, refs, text)
    return text
