"""The run index: what names a run and where its newest event is — its uid, number, name,
branch and `last_lamport` — for every run at a tip, kept in the git dir's cache by run tree
id (docs/decisions/1316-run-keys-by-tree-id.md, 1601-one-run-index.md).

`dflow pause 12`, `dflow step approve add-login 2`, `dflow new` (the next number, a name
already taken), `dflow show RUN` and `dflow events --limit N` need these of every run, not
every run's 4 KB snapshot: inflating and scanning 1,000 snapshots costs ~25 ms per command.
An entry is a pure function of the run's run.json, and so of its directory's tree id, which
the bucket trees give without reading any blob; only runs whose tree is not in the cache are
read. The store (`StateView`, through libgit2) and the read side (`reads/runs.py`, through the
pure-Python reader) use this one index; the answer is a set of candidates: the callers
validate the snapshots they act on. Standard library only at import (the fast reads).
"""

from __future__ import annotations

import json
import re

from ..domain.plain import SNAPSHOT_SCHEMA_VERSION
from . import cache
from .encoding.layout import run_snapshot_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

NAME = "run-index"
KEY = "3"  # entries are addressed by content; the header's dflow version does the rest

# uid, number, name, branch and last_lamport (None: unknown, which counts as the newest)
Entry = tuple[str, int, str, str, int | None]

# The start of a run.json this dflow writes (its schema, pydantic's field order): uid, number,
# name, task and branch. A name or branch with a JSON escape in it does not match (the task's
# escapes are skipped over); such a snapshot, or one in any other layout, is read whole.
RUN_HEAD = re.compile(
    rb'\{"schema_version":%d,"run":\{"uid":"([0-9A-Za-z]+)","number":(\d+),"name":"([^"\\]*)",'
    rb'"task":"(?:[^"\\]|\\.)*","branch":"([^"\\]*)",' % SNAPSHOT_SCHEMA_VERSION)
_LAST_LAMPORT = re.compile(rb'"last_lamport"\s*:\s*(\d+)')


class Unusual(ValueError):
    """Something the read side reads differently from the command (or the command refuses):
    a snapshot or event this dflow would not write as it is. The command answers."""


def run_index(versions: dict[str, str], snapshot: Callable[[str], bytes | None],
              common: str | None, validate: bool) -> dict[str, Entry]:
    """Run folder -> its entry, for every run with a run.json (`versions`: folder -> tree id,
    `snapshot`: folder -> run.json's bytes), the cache brought up to date. A snapshot in
    another layout is validated through the models when `validate` (the store), else read
    as plain JSON and refused with `Unusual` when it is not plainly what dflow writes (the
    read side, which then leaves the answer to the command)."""
    cached = _load(common) if common is not None else {}
    found: dict[str, Entry] = {}
    missing = False
    for folder, tree in versions.items():
        row = cached.get(tree)
        if row is not None and row[0] == folder:
            found[folder] = row[1]
            continue
        missing = True
        data = snapshot(folder)
        if data is not None:  # a folder without run.json is no run (as `runs()` reads it)
            found[folder] = of_snapshot(data, folder, validate)
    if common is not None and (missing or len(cached) != len(versions)):
        rows = {tree: [folder, *found[folder]] for folder, tree in versions.items()
                if folder in found}
        cache.save(common, NAME, KEY, json.dumps(rows, ensure_ascii=False,
                                                 separators=(",", ":")).encode())
    return found


def of_snapshot(data: bytes, folder: str, validate: bool) -> Entry:
    """One run's entry from its run.json: by the anchored match, else read whole."""
    head = RUN_HEAD.match(data)
    if head is not None and head.group(1).decode() == folder:
        return (folder, int(head.group(2)), head.group(3).decode(), head.group(4).decode(),
                last_lamport(data))
    if validate:
        from .encoding import codec

        run = codec.load_snapshot(data, run_snapshot_path(folder)).run
        return run.uid, run.number, run.name, run.branch, last_lamport(data)
    return _plain(data, folder)


def may_name(entry: Entry, ref: str) -> bool:
    """Whether what a user typed (`0012-add-login`, `12`, `add-login`, a branch, a uid) can
    name the run of `entry`: the one rule `StateView.find_run` (which then decides on the
    validated snapshot) and the read side's `show` use."""
    uid, number, name, branch, _ = entry
    return ref in (f"{number:04d}-{name}", name, branch, uid) or (
        ref.isdecimal() and int(ref) == number)


def last_lamport(data: bytes) -> int | None:
    """The snapshot's `last_lamport` read from its bytes (the last field pydantic writes);
    None when it has none."""
    found = _LAST_LAMPORT.search(data, max(0, len(data) - 200)) or _LAST_LAMPORT.search(data)
    return int(found.group(1)) if found else None


def _plain(data: bytes, folder: str) -> Entry:
    doc = json.loads(data)
    run = doc.get("run") if isinstance(doc, dict) else None
    if not isinstance(run, dict):
        raise Unusual(f"run {folder}: a snapshot this dflow does not read as it is")
    number, name, uid, branch = run.get("number"), run.get("name"), run.get("uid"), run.get(
        "branch", "")
    if doc.get("schema_version", 1) != SNAPSHOT_SCHEMA_VERSION or type(number) is not int or not (
            isinstance(name, str) and isinstance(uid, str) and isinstance(branch, str)):
        raise Unusual(f"run {folder}: a snapshot this dflow does not read as it is")
    last = doc.get("last_lamport")  # absent: counts as the newest, as the command counts it
    if last is not None and type(last) is not int:
        raise Unusual(f"run {folder}: last_lamport is not a number")
    return uid, number, name, branch, last


def _load(common: str) -> dict[str, tuple[str, Entry]]:
    """tree id -> (folder, entry); empty when the entry is missing, old or damaged (a damaged
    cache is rebuilt, never trusted)."""
    raw = cache.load(common, NAME, KEY)
    if raw is None:
        return {}
    try:
        rows = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {}
    found: dict[str, tuple[str, Entry]] = {}
    for tree, row in rows.items() if isinstance(rows, dict) else ():
        match row:
            case [str(folder), str(uid), int(number), str(name), str(branch), last] if (
                    type(number) is int and (last is None or type(last) is int)):
                found[tree] = (folder, (uid, number, name, branch, last))
            case _:
                return {}
    return found
