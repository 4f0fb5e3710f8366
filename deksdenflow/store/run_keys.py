"""What a user types to name a run — its number, name and branch — for every run at a tip,
kept in the git dir's cache by run tree id (docs/decisions/1316-run-keys-by-tree-id.md).

`dflow pause 12`, `dflow step approve add-login 2`, `dflow new` (the next number, a name
already taken) need these keys of every run, not every run's 4 KB snapshot: inflating and
scanning 1,000 snapshots costs ~25 ms per command. A run's keys are a pure function of its
run.json, and so of its directory's tree id, which the bucket trees give without reading any
blob; only runs whose tree is not in the cache are read. The answer is a set of candidates:
the callers validate the snapshots they act on, as before.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from ..domain.models import SNAPSHOT_SCHEMA_VERSION
from . import cache, codec
from .layout import run_snapshot_path

if TYPE_CHECKING:
    from .state import StateView

NAME = "run-keys"
KEY = "tree-id"  # entries are addressed by content; the header's dflow version does the rest

RunKeys = tuple[int, str, str]  # number, name, branch

# The start of a run.json this dflow writes (its schema, pydantic's field order): uid, number,
# name, task and branch. A name or branch with a JSON escape in it does not match (the task's
# escapes are skipped over); such a snapshot, or one in any other layout, is validated.
RUN_HEAD = re.compile(
    rb'\{"schema_version":%d,"run":\{"uid":"([0-9A-Za-z]+)","number":(\d+),"name":"([^"\\]*)",'
    rb'"task":"(?:[^"\\]|\\.)*","branch":"([^"\\]*)",' % SNAPSHOT_SCHEMA_VERSION)


def run_keys(view: StateView) -> dict[str, RunKeys]:
    """uid -> (number, name, branch) of every run, in the tree's order."""
    versions = view.run_versions()
    common = _common(view)
    cached = _load(common) if common is not None else {}
    found: dict[str, RunKeys] = {}
    missing = False
    for uid, tree in versions.items():
        row = cached.get(tree)
        if row is not None and row[0] == uid:
            found[uid] = row[1]
            continue
        keys = of_snapshot(view, uid)
        if keys is not None:  # a folder without run.json is no run (as `runs()` reads it)
            found[uid] = keys
        missing = True
    if common is not None and (missing or len(cached) != len(versions)):
        rows = {tree: [uid, *found[uid]] for uid, tree in versions.items() if uid in found}
        cache.save(common, NAME, KEY, json.dumps(rows, ensure_ascii=False,
                                                 separators=(",", ":")).encode())
    return found


def of_snapshot(view: StateView, uid: str) -> RunKeys | None:
    """One run's keys from its run.json: by the anchored match, else by validating it;
    None when the run's folder holds no run.json."""
    path = run_snapshot_path(uid)
    data = view.snapshot_data(uid)
    if data is None:
        return None
    head = RUN_HEAD.match(data)
    if head is not None and head.group(1).decode() == uid:
        return int(head.group(2)), head.group(3).decode(), head.group(4).decode()
    run = codec.load_snapshot(data, path).run
    return run.number, run.name, run.branch


def _common(view: StateView) -> str | None:
    from .repo import common_dir

    try:
        return str(common_dir(view.repo))
    except OSError:
        return None


def _load(common: str) -> dict[str, tuple[str, RunKeys]]:
    """tree id -> (uid, keys); empty when the entry is missing, old or damaged (a damaged
    cache is rebuilt, never trusted)."""
    raw = cache.load(common, NAME, KEY)
    if raw is None:
        return {}
    try:
        rows = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {}
    found: dict[str, tuple[str, RunKeys]] = {}
    for tree, row in rows.items() if isinstance(rows, dict) else ():
        match row:
            case [str(uid), int(number), str(name), str(branch)] if type(number) is int:
                found[tree] = (uid, (number, name, branch))
            case _:
                return {}
    return found
