"""The facts of the git dir a face needs before it decides how to answer: where the shared
git dir is, the state ref's tip and whether the store has checked it, whether a remote may
exist, the refs the implicit sync looks at. Standard library only (the fast paths' start).

These are the store's own readings (store/cache.py), handed to the faces through the read
side so that `cli` imports no store module (docs/decisions/1600).
"""

from __future__ import annotations

from ..store.cache import common_dir_of, may_have_remote, read_ref, read_tip, refs_key
from ..store.cache import trusted_tip as _trusted_tip
from ..store.encoding.layout import STATE_REF

__all__ = ["STATE_REF", "checked_tip", "common_dir_of", "may_have_remote", "read_ref",
           "read_tip", "refs_key"]


def checked_tip(common: str) -> str | None:
    """The state ref's tip when it is one the store wrote or verified; None when the regular
    command must look (not initialised, moved behind the store's back: `Store.read` checks)."""
    tip = read_tip(common)
    return tip if tip is not None and _trusted_tip(common) == tip else None
