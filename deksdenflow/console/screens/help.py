"""`?`: every key, what it does, and which library call (CLI command) it matches."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = [
    ("Runs", [
        ("enter", "open the run / step under the cursor", ""),
        ("/", "filter runs (or search a log)", ""),
        ("S", "sort runs: id, status, updated, cost", ""),
        ("esc", "back / clear the filter", ""),
        ("1-4", "tabs: steps, plan, timeline, diff (of a step: summary, file, logs, diff)", ""),
    ]),
    ("Workflow", [
        ("n", "new run (name, task)", "dflow new"),
        ("p", "plan the run", "dflow plan"),
        ("r", "run (per loop.mode)", "dflow run"),
        ("R", "run all steps", "dflow run --all"),
        ("v", "QA the step", "dflow qa"),
        ("a", "approve the step", "dflow step approve"),
        ("t", "retry the step", "dflow step retry"),
        ("space", "pause / resume the run", "dflow pause|resume"),
        ("c", "cancel the run (asks first)", "dflow cancel"),
        ("o", "push and open a draft PR (asks first)", "dflow pr"),
        ("l", "land the run on its base (asks first)", "dflow land"),
        ("x", "remove its worktree and branch (asks first)", "dflow clean"),
        ("s", "sync the state ref with the remote", "dflow sync"),
    ]),
    ("Views", [
        ("w", "workers and open jobs", "dflow workers"),
        ("i", "project settings", "dflow project show"),
        ("m", "metrics: tokens, cost, QA, errors", "dflow report"),
        ("?", "this help", ""),
        ("q", "quit", ""),
    ]),
]


def help_text() -> str:
    lines = []
    for group, keys in KEYS:
        lines.append(f"[b]{group}[/b]")
        for key, what, cli in keys:
            same = f"  [dim]({cli})[/dim]" if cli else ""
            lines.append(f"  [b]{key:<6}[/b] {what}{same}")
        lines.append("")
    lines.append("On the runs list the step keys pick the first step that needs them;")
    lines.append("open a run to choose the step.")
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Static(help_text())
