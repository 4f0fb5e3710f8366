"""`dflow status --json` for all runs, through the tip-keyed cache in the git dir.

A hit (the tip has not moved since the last listing) prints the stored bytes from `main`
before Typer, pydantic or pygit2 are imported. A miss re-renders only the runs whose tree
changed since the last listing (docs/decisions/0012-status-cache.md, cli/status_lines.py); the
text is byte-for-byte what `emit_json(runs.status(...))` prints.
"""

from __future__ import annotations

import os
import sys

from ..store import cache

TYPE_CHECKING = False
if TYPE_CHECKING:  # the hit path imports nothing beyond the standard library's core
    from ..context.project import Project
    from ..store import StateView
    from . import status_lines

LISTING = "status.json"


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
        payload = cache.load(common, LISTING, listing_key(common, tip, refs_at_start))
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


def listed(project: Project, view: StateView | None = None) -> list[status_lines.Line]:
    """Every run's line at the tip `project` reads now (verified by the store)."""
    from ..store.lite import LiteView
    from . import status_lines

    view = view or project.view()
    if view.tip is None:
        return []
    return status_lines.lines(str(project.store.git_dir), LiteView(project.store.repo, view.tip),
                              lambda: project.settings(view))


def render(project: Project) -> str:
    """The listing's JSON text for the tip `project` reads now; stores it for the next call."""
    common = str(project.store.git_dir)
    # Keyed by the refs as they were before the implicit sync (cli/app.py) ran: if a fetch
    # moved a tracking ref since, the key no longer matches and nothing is stored.
    refs = refs_at_start if refs_at_start is not None else cache.refs_key(common)
    from .status_lines import listing_json

    view = project.view()
    text = listing_json(listed(project, view))
    if view.tip is not None and cache.refs_key(common) == refs:
        cache.save(common, LISTING, listing_key(common, view.tip, refs), (text + "\n").encode())
    return text


def listing_key(common: str, tip: str, refs: str) -> str:
    """The listing's cache key (`status_lines.print_fast` stores under it too): the tip,
    the refs the implicit sync looks at, and what the effective settings depend on besides
    project.toml (a DFLOW_* variable or the user config changes why a run waits without
    moving the tip)."""
    from .. import environment

    return f"{tip} {refs} {environment.settings_digest(common)}"
