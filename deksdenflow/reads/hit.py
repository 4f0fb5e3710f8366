"""`dflow status --json`'s whole text, kept under the tip, the refs the implicit sync looks at
and the settings digest (docs/decisions/0012-status-cache.md): a hit is printed before Typer,
pydantic, pygit2 — or `json` — are imported, and only for the tip the store checked
(decision 1602). Nothing but the store's cache module and `os` at import.
"""

from __future__ import annotations

from ..store import cache

LISTING = "status.json"

# The refs as this process first saw them, before the implicit sync ran (listing.json_text).
refs_at_start: str | None = None


def cached_json(cwd: str) -> bytes | None:
    """`status --json`'s bytes kept for the tip as it is now, when the store has checked that
    tip; else None (the refs as they are now are remembered: `keep_json` stores under them
    only if no fetch moved one since)."""
    global refs_at_start
    try:
        common = cache.common_dir_of(cwd)
        tip = cache.read_tip(common) if common is not None else None
        if common is None or tip is None:
            return None
        refs_at_start = cache.refs_key(common)
        if cache.trusted_tip(common) != tip:
            return None  # moved behind the store's back: never served before Store.read checks
        return cache.load(common, LISTING, listing_key(common, tip, refs_at_start))
    except OSError:
        return None


def keep_json(common: str, tip: str | None, refs: str, text: str) -> None:
    if tip is not None and cache.refs_key(common) == refs:
        cache.save(common, LISTING, listing_key(common, tip, refs), (text + "\n").encode())


def listing_key(common: str, tip: str, refs: str) -> str:
    """The listing's cache key: the tip, the refs the implicit sync looks at, and what the
    effective settings depend on besides project.toml (a DFLOW_* variable or the user config
    changes why a run waits without moving the tip)."""
    from .. import environment

    return f"{tip} {refs} {environment.settings_digest(common)}"
