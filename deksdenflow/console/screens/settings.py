"""project.toml as stored on the state ref (read-only), and what overrides it here."""

from __future__ import annotations

import json

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from ...context import config
from ...errors import DflowError
from ...observe.watch import Change
from .base import StateScreen


class SettingsScreen(StateScreen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="settings-source")
        with VerticalScroll():
            yield Static(id="settings-text")
            yield Static(id="settings-overrides")
        yield Footer()

    def on_mount(self) -> None:
        self.show()

    def show(self) -> None:
        text = self.watcher.project_text()
        tip = (self.watcher.tip or "")[:12]
        self.query_one("#settings-source", Static).update(
            Text.assemble(("# ", "dim"), (config.PROJECT_SOURCE, "bold"),
                          f" (tip {tip}; read-only here: `dflow config set KEY VALUE` edits it)")
        )
        theme = "ansi_dark"
        body = Syntax(text.rstrip() or "# empty", "toml", theme=theme, background_color="default")
        self.query_one("#settings-text", Static).update(body)
        self.query_one("#settings-overrides", Static).update(overrides(self.console.project, text))

    def state_changed(self, change: Change) -> None:
        if change.settings:
            self.show()


def overrides(project: object, text: str) -> Text:
    """Settings that come from somewhere other than project.toml (env, user config, flags)."""
    try:
        resolved = config.resolve(text, flags=getattr(project, "flags", {}))
    except DflowError as exc:
        return Text(f"\n{exc}", style="red")
    lines = [
        f"{key} = {json.dumps(config.get_value(resolved.settings, key))}  # from {source}"
        for key, source in sorted(resolved.sources.items())
        if source != config.PROJECT_SOURCE
    ]
    if not lines:
        return Text("\nNothing overrides project.toml here.", style="dim")
    return Text("\n# overridden here:\n" + "\n".join(lines), style="yellow")
