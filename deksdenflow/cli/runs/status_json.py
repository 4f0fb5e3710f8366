"""`dflow status --json` for all runs, through the tip-keyed cache the read side keeps.

A hit (the tip has not moved since the last listing) prints the stored bytes from `main`
before Typer, pydantic or pygit2 are imported. A miss re-renders only the runs whose tree
changed since the last listing (docs/decisions/0012-status-cache.md, reads/listing.py); the
text is byte-for-byte what `emit_json(runs.status(...))` prints.
"""

from __future__ import annotations

import os
import sys

from ...reads import hit


def print_cached(argv: list[str]) -> bool:
    """Print the cached listing for `dflow status --json` when it is current; True if done."""
    if argv != ["status", "--json"]:
        return False
    payload = hit.cached_json(os.getcwd())
    if payload is None:
        return False
    try:
        sys.stdout.buffer.write(payload)
        sys.stdout.flush()
    except BrokenPipeError:  # `dflow status --json | head`: the reader is gone, not an error
        os._exit(0)
    return True
