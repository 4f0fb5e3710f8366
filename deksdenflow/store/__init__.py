"""The store: the only code that reads or writes `refs/deksdenflow/state`.

The names below load on first use (PEP 562), so `store.cache` — what `dflow status --json`
reads before anything else is imported — costs no pygit2 or pydantic import.
"""

from __future__ import annotations

from importlib import import_module

from .encoding.layout import STATE_REF

TYPE_CHECKING = False  # not typing's: importing typing is a cost the cache-hit path avoids
if TYPE_CHECKING:
    from .repo import Store, open_store
    from .state import StateView
    from .writer import Tx

__all__ = ["STATE_REF", "StateView", "Store", "Tx", "open_store"]

_LAZY = {"Store": ".repo", "open_store": ".repo", "StateView": ".state", "Tx": ".writer"}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value
