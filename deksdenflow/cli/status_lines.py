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
from dataclasses import dataclass

from .. import environment
from ..store import cache
from .text import ago, console, styled, tokens

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..domain.settings import ProjectSettings
    from ..store.lite import LiteView
    from ..workflow import runs

LINES = "status-lines"
EMPTY = "no protocol runs yet; start one with `dflow new NAME --task TEXT`"
HEADERS = ("id", "status", "steps", "jobs", "tokens", "updated")


@dataclass(frozen=True)
class Line:
    """One run as the listing shows it."""

    number: int
    uid: str
    id: str
    status: str
    stage: str
    paused: bool
    done: int
    total: int
    jobs: str
    tokens: int
    updated: str  # ISO time, "" when never
    waits: str  # the `waits: ...` note, "" while the run moves
    alerts: list[list[object]]  # [budget and period, threshold, text]: the highest of each
    fragment: str  # the run's JSON in the listing, indented as `--json` prints it


def lines(common: str, view: LiteView, settings: Callable[[], ProjectSettings]) -> list[Line]:
    """Every run's line at the view's tip, ordered by number; the cache is brought up to date."""
    key = settings_key(view)
    dirs = view.run_dirs()
    known = _load(common, key)
    found = {tree: known[tree] for tree in dirs.values() if tree in known}
    missing = {uid: tree for uid, tree in dirs.items() if tree not in found}
    if missing:
        found.update(_compute(view, missing, settings()))
    if missing or len(found) != len(known):
        _save(common, key, found)
    return sorted(found.values(), key=lambda line: (line.number, line.uid))


def settings_key(view: LiteView) -> str:
    """What the effective settings depend on (as `Project`'s settings cache keys them)."""
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith("DFLOW_"))
    path = environment.text("DFLOW_CONFIG_FILE") or _user_config()
    try:
        stat = os.stat(path)
        user = f"{path}:{stat.st_mtime_ns}:{stat.st_size}"
    except OSError:
        user = path
    return json.dumps([view.blob_id("project.toml"), env, user])


def _user_config() -> str:
    import platformdirs

    return os.path.join(platformdirs.user_config_dir("dflow"), "config.toml")


def _compute(view: LiteView, missing: dict[str, str],
             settings: ProjectSettings) -> dict[str, Line]:
    from ..store import codec
    from ..store.layout import run_snapshot_path
    from ..workflow import runs

    found = {}
    for uid, tree in missing.items():
        data = view.snapshot(uid)
        if data is None:
            continue  # a run directory without a snapshot is not a run (yet)
        snap = codec.load_snapshot(data, run_snapshot_path(uid))
        found[tree] = of_run_line(runs.run_line(snap, settings))
    return found


def of_run_line(line: runs.RunLine) -> Line:
    """The listing's line for a `runs.RunLine`."""
    jobs = ", ".join(f"{j['kind']}:{j['status']}" for j in line.open_jobs) or "-"
    waits = waiting_line(line.waiting.reason, line.waiting.command) if line.waiting else ""
    return Line(line.number, line.uid, line.id, line.status, line.stage, line.paused,
                line.steps_done, line.steps_total, jobs, line.tokens,
                line.updated.isoformat() if line.updated else "", waits,
                [[a.prefix, a.threshold, a.text] for a in line.alerts],
                line.model_dump_json(indent=2))


def waiting_line(reason: str, command: str) -> str:
    """`waits: <reason> — <command>`, as status, show and the console print it."""
    command = command if "`" in command else f"`{command}`"
    return f"waits: {reason} — {command}"


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
        row = json.dumps([*_row(line), at, size], ensure_ascii=False, separators=(",", ":"))
        rows.append(f'"{tree}":{row}')  # a tree id is hex: nothing to escape
        at += size
    head = "{" + ",".join(rows) + "}\n"
    del rows
    parts = (line.fragment.encode() for line in found.values())
    cache.save(common, LINES, key, itertools.chain([head.encode()], parts))


def _row(line: Line) -> tuple[object, ...]:
    return (line.number, line.uid, line.id, line.status, line.stage, line.paused, line.done,
            line.total, line.jobs, line.tokens, line.updated, line.waits, line.alerts)


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
    """`ready to land` / `merged` in place of `completed` (decision 1000), styled."""
    if stage and stage != status:
        return styled(status).replace(status, stage)
    return styled(status)


def print_listing(found: list[Line], empty: str = EMPTY) -> None:
    """The status table of every run, then why each waiting run waits."""
    from datetime import datetime

    from .table import print_lines, print_table

    out = console()
    if not found:
        out.print(empty)
        return
    rows = [[line.id, stage_markup(line.status, line.stage) + (" (paused)" if line.paused
                                                               else ""),
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
            from .status_json import LISTING

            cache.save(common, LISTING, f"{tip} {refs}", (text + "\n").encode())
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
        found = lines(common, view, lambda: _settings(view))
    except (DflowError, Unreadable):
        return None  # the command says it properly
    if as_json:
        return listing_json(found)
    print_listing(found)
    return ""


def _settings(view: LiteView) -> ProjectSettings:
    from ..context import config

    data = view.blob("project.toml")
    return config.resolve(data.decode() if data is not None else "").settings
