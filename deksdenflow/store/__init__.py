"""The store: the only code that reads or writes `refs/deksdenflow/state`."""

from .layout import STATE_REF
from .repo import Store, open_store
from .state import StateView
from .writer import Tx

__all__ = ["STATE_REF", "StateView", "Store", "Tx", "open_store"]
