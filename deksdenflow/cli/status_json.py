"""`dflow status --json` for all runs, through the tip-keyed cache in the git dir.

A hit (the tip has not moved since the last listing) prints the stored bytes from `main`
before Typer, pydantic or pygit2 are imported. A miss re-renders only the runs whose tree
changed since the last listing (docs/decisions/0012-status-cache.md); the text is
byte-for-byte what `emit_json(runs.status(...))` prints.
"""

from __future__ import annotations

import os
import sys

from ..store import cache

TYPE_CHECKING = False
if TYPE_CHECKING:  # the hit path imports nothing beyond the standard library's core
    from ..store import StateView
    from ..workflow.project import Project

LISTING = "status.json"
PER_RUN = "status-runs.json"
PER_RUN_KEY = "by-run-tree"  # entries are keyed by run tree ids, valid at any tip


def print_cached(argv: list[str]) -> bool:
    """Print the cached listing for `dflow status --json` when it is current; True if done."""
    if argv != ["status", "--json"]:
        return False
    try:
        common = cache.common_dir_of(os.getcwd())
        tip = cache.read_tip(common) if common is not None else None
        payload = cache.load(common, LISTING, tip) if common and tip else None
    except OSError:
        return False
    if payload is None:
        return False
    sys.stdout.buffer.write(payload)
    sys.stdout.flush()
    return True


def render(project: Project) -> str:
    """The listing's JSON text for the tip `project` reads now; stores it for the next call."""
    import json

    view = project.view()
    common = str(project.store.git_dir)
    versions = view.run_versions()
    known = _load_per_run(common)
    lines = {version: known[version] for version in versions.values() if version in known}
    for uid, version in versions.items():
        if version not in lines:
            lines[version] = _line(view, uid)
    ordered = sorted(lines.values(), key=lambda line: (line[0], line[1]))
    text = _assemble([fragment for _, _, fragment in ordered])
    if view.tip is not None:
        cache.save(common, LISTING, view.tip, (text + "\n").encode())
        if lines != known:
            cache.save(common, PER_RUN, PER_RUN_KEY, json.dumps(lines).encode())
    return text


def _line(view: StateView, uid: str) -> tuple[int, str, str]:
    from ..workflow import runs

    snap = view.run(uid)
    assert snap is not None  # the uid was just listed from this view's tree
    return snap.run.number, uid, runs.run_line(snap).model_dump_json(indent=2)


def _assemble(fragments: list[str]) -> str:
    """What pydantic prints for StatusReport(runs=[...]) with indent=2, built from the runs'
    own indented texts."""
    if not fragments:
        return '{\n  "runs": []\n}'
    body = ",\n".join("    " + fragment.replace("\n", "\n    ") for fragment in fragments)
    return '{\n  "runs": [\n' + body + "\n  ]\n}"


def _load_per_run(common: str) -> dict[str, tuple[int, str, str]]:
    import json

    raw = cache.load(common, PER_RUN, PER_RUN_KEY)
    if raw is None:
        return {}
    try:
        doc = json.loads(raw)
        return {version: (int(n), str(uid), str(text)) for version, (n, uid, text) in doc.items()}
    except (ValueError, TypeError):
        return {}  # a damaged cache is rebuilt, never trusted

