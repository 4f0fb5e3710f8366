"""The listing of every run (`dflow status`, `dflow status --json`), rebuilt only where it moved.

Each run's line (its table row, its "waits" note and its JSON text) is a pure function of the
run's directory tree and the effective settings, so it is kept in the git dir's cache keyed by
the run's tree id, under a key made of what the settings depend on (project.toml's blob id,
the DFLOW_* variables, the user config file). After the ref moves, only the runs whose tree
changed are parsed into models; the others cost one small JSON row each
(docs/decisions/1301-status-reads-only-what-changed.md).

Without Typer: `print_fast` answers `dflow status` and `dflow status --json` from `cli/main.py`
before Typer or pydantic is imported, when nothing unusual is asked for.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable

from ..store import cache
from ..workflow.listing import (
    LINES,
    Line,
    handed_over,
    line_of,
    of_run_line,
    row,
    waiting_line,
)
from ..workflow.listing import settings_key as _settings_key
from .text import ago, console, styled, tokens

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..domain.settings import ProjectSettings
    from ..store.lite import LiteView

__all__ = ["LINES", "Line", "lines", "of_run_line", "print_fast", "print_listing",
           "waiting_line"]

EMPTY = "no protocol runs yet; start one with `dflow new NAME --task TEXT`"
HEADERS = ("id", "status", "steps", "jobs", "tokens", "updated")
HANDED_UNSAVED = 32  # journaled lines a listing uses before it folds them into its cache


def lines(common: str, view: LiteView, settings: Callable[[], ProjectSettings]) -> list[Line]:
    """Every run's line at the view's tip, ordered by number; the cache is brought up to date.
    A changed run's line comes from the writer's journal when it handed one over (decision
    1304), else it is computed here."""
    key = settings_key(view, common)
    dirs = view.run_dirs()
    known = _load(common, key)
    found = {tree: known[tree] for tree in dirs.values() if tree in known}
    stale = len(known) - len(found)  # older trees of runs that moved (or runs that went)
    missing = {uid: tree for uid, tree in dirs.items() if tree not in found}
    handed: dict[str, Line] = {}
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


def line_of_run(common: str, view: LiteView, uid: str,
                settings: Callable[[], ProjectSettings]) -> Line | None:
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
    return _compute(view, {uid: tree}, settings()).get(tree)


def settings_key(view: LiteView, common: str) -> str:
    """What the effective settings at the view's tip depend on (workflow/listing.py)."""
    return _settings_key(view.blob_id("project.toml"), common)


def _compute(view: LiteView, missing: dict[str, str],
             settings: ProjectSettings) -> dict[str, Line]:
    found = {}
    for uid, tree in missing.items():
        data = view.snapshot(uid)
        if data is None:
            continue  # a run directory without a snapshot is not a run (yet)
        found[tree] = line_of(data, uid, settings)
    return found


# --- the cache: one framed record per run tree --------------------------------------------


def _save(common: str, key: str, found: dict[str, Line]) -> None:
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


def _load(common: str, key: str) -> dict[str, Line]:
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
            found[tree] = Line(*values)
        return found
    except (ValueError, TypeError, UnicodeDecodeError, AttributeError, IndexError):
        return {}  # a damaged cache is rebuilt, never trusted


# --- printing -----------------------------------------------------------------------------


def listing_json(found: list[Line]) -> str:
    """What pydantic prints for StatusReport(runs=[...]) with indent=2, from the runs' own
    indented texts."""
    if not found:
        return '{\n  "runs": []\n}'
    body = ",\n".join("    " + line.fragment.replace("\n", "\n    ") for line in found)
    return '{\n  "runs": [\n' + body + "\n  ]\n}"


def stage_markup(status: str, stage: str) -> str:
    """The run's stage, styled (domain/stages.py); its status where a line has no stage."""
    return styled(stage or status)


def print_listing(found: list[Line], empty: str = EMPTY) -> None:
    """The status table of every run, then why each waiting run waits."""
    from datetime import datetime

    from .table import plain_console, print_lines, print_table

    out = plain_console() or console()  # Rich only when it decides what we cannot tell
    if not found:
        print_lines(out, [empty])  # no markup in it: what `out.print(empty)` printed
        return
    rows = [[line.id, stage_markup(line.status, line.stage),
             f"{line.done}/{line.total}", line.jobs, tokens(line.tokens),
             ago(datetime.fromisoformat(line.updated) if line.updated else None)]
            for line in found]
    print_table(out, HEADERS, rows)
    print_lines(out, [f"{line.id} {line.waits}" for line in found if line.waits]
                + alert_notes(found))


def alert_notes(found: list[Line]) -> list[str]:
    """`<run> alert: <text>`, the highest alert per budget and period: a month's once, though
    several runs (or clones, before their merge) recorded it (decision 1224)."""
    best: dict[str, tuple[float, str]] = {}
    for line in found:
        for prefix, threshold, text in line.alerts:
            key, level = str(prefix), float(threshold)  # type: ignore[arg-type]
            if key not in best or level > best[key][0]:
                best[key] = (level, f"{line.id} alert: {text}")
    return [note for _, note in best.values()]


# --- the fast path ------------------------------------------------------------------------


def print_fast(argv: list[str]) -> bool:
    """`dflow status [--json]` without Typer; False when the regular command must answer
    (anything unusual: not initialised, a tip the store has not verified, an error)."""
    as_json = argv == ["status", "--json"]
    if not as_json and argv != ["status"]:
        return False
    common = cache.common_dir_of(os.getcwd())
    if common is None:
        return False
    refs = cache.refs_key(common)  # as before the implicit sync, like status_json's key

    def body(common: str, _tip: str) -> str | None:
        text = _listing(common, as_json)
        if text is None or not as_json:
            return text
        tip = cache.read_tip(common)
        if tip is not None and cache.refs_key(common) == refs:
            from .status_json import LISTING, listing_key

            cache.save(common, LISTING, listing_key(common, tip, refs), (text + "\n").encode())
        return text + "\n"

    from . import fast

    return fast.run("status", body, common)


def _listing(common: str, as_json: bool) -> str | None:
    """The JSON text (or "" once the table is printed); None: leave it to the command."""
    from ..errors import DflowError
    from ..store.objects import Unreadable

    tip = cache.read_tip(common)
    if tip is None or cache.trusted_tip(common) != tip:
        return None  # not initialised, or moved behind the store's back: Store.read checks
    try:
        from ..store.lite import LiteView

        view = LiteView(common, tip)
        found = lines(common, view, lambda: settings_at(view, common))
    except (DflowError, Unreadable):
        return None  # the command says it properly
    if as_json:
        return listing_json(found)
    print_listing(found)
    return ""


def settings_at(view: LiteView, common: str) -> ProjectSettings:
    from ..context import config

    data = view.blob("project.toml")
    return config.resolve(data.decode() if data is not None else "", trust_dir=common).settings
