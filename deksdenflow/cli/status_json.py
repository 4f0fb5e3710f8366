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
    from ..context.project import Project
    from ..store import StateView

LISTING = "status.json"
PER_RUN = "status-runs.json"
PER_RUN_KEY = "by-run-tree"  # entries are keyed by run tree ids, valid at any tip


# The refs as this process first saw them, before the implicit sync ran (see render).
refs_at_start: str | None = None


def print_cached(argv: list[str]) -> bool:
    """Print the cached listing for `dflow status --json` when it is current; True if done."""
    global refs_at_start
    if argv != ["status", "--json"]:
        return False
    try:
        common = cache.common_dir_of(os.getcwd())
        tip = cache.read_tip(common) if common is not None else None
        if common is None or tip is None:
            return False
        refs_at_start = cache.refs_key(common)
        payload = cache.load(common, LISTING, f"{tip} {refs_at_start}")
    except OSError:
        return False
    if payload is None:
        return False
    try:
        sys.stdout.buffer.write(payload)
        sys.stdout.flush()
    except BrokenPipeError:  # `dflow status --json | head`: the reader is gone, not an error
        os._exit(0)
    return True


def render(project: Project) -> str:
    """The listing's JSON text for the tip `project` reads now; stores it for the next call."""
    import json

    common = str(project.store.git_dir)
    # Keyed by the refs as they were before the implicit sync (cli/sync_cmds) ran: if a fetch
    # moved a tracking ref since, the key no longer matches and nothing is stored.
    refs = refs_at_start if refs_at_start is not None else cache.refs_key(common)
    view = project.view()
    versions = view.run_versions()
    known = _load_per_run(common)
    lines = {version: known[version] for version in versions.values() if version in known}
    for uid, version in versions.items():
        if version not in lines:
            lines[version] = _line(view, uid)
    ordered = sorted(lines.values(), key=lambda line: (line[0], line[1]))
    text = _assemble([fragment for _, _, fragment in ordered])
    if view.tip is not None and cache.refs_key(common) == refs:
        cache.save(common, LISTING, f"{view.tip} {refs}", (text + "\n").encode())
        if lines != known:
            cache.save(common, PER_RUN, PER_RUN_KEY, json.dumps(lines).encode())
    return text


def _line(view: StateView, uid: str) -> tuple[int, str, str]:
    from ..workflow import runs

    snap = view.run(uid)
    assert snap is not None  # the uid was just listed from this view's tree
    return snap.run.number, uid, runs.run_line(snap, view.settings()).model_dump_json(indent=2)


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

