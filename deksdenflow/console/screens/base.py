"""What every live screen shares: it hears about state changes and names its target."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.screen import Screen

from ...observe.watch import Change, StateWatcher

if TYPE_CHECKING:
    from ..app import DflowConsole


class StateScreen(Screen[None]):
    """A screen that shows part of the state and follows the ref."""

    @property
    def console(self) -> DflowConsole:
        return cast("DflowConsole", self.app)

    @property
    def watcher(self) -> StateWatcher:
        return self.console.watcher

    def state_changed(self, change: Change) -> None:
        """Re-read what `change` says moved; the default screen shows nothing live."""

    def target(self) -> tuple[str | None, int | None]:
        """The run (uid) and step the run keys act on here."""
        return None, None
