"""The form behind `n`: a name and a task, like `dflow new NAME --task TEXT`."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label

from ...workflow.lifecycle.runs import slugify

NewRun = tuple[str, str, bool]


class NewRunDialog(ModalScreen[NewRun | None]):
    # Focused as the screen is activated, not after it mounted: keys typed right after `n`
    # reach the name, never the runs list behind the form.
    AUTO_FOCUS = "#name"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "create", "Create"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("New protocol run")
            yield Input(placeholder="name, e.g. add-login", id="name")
            yield Input(placeholder="task: what should the agent do?", id="task")
            yield Checkbox("plan it now", value=True, id="plan")
            yield Label("", id="hint")
            with Horizontal(classes="buttons"):
                yield Button("Create (ctrl+s)", id="create", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "name":
            slug = slugify(event.value)
            self.query_one("#hint", Label).update(f"run name: {slug}" if slug else "")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "name":
            self.query_one("#task", Input).focus()
        else:
            self.action_create()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "create":
            self.action_create()
        else:
            self.action_cancel()

    def action_create(self) -> None:
        # The rest is checked by the library, so the console says exactly what `dflow new`
        # would; an empty field keeps the form (and what was typed) open.
        name, task = self.query_one("#name", Input), self.query_one("#task", Input)
        missing = name if not slugify(name.value) else task if not task.value.strip() else None
        if missing is not None:
            what = "a name with letters or digits" if missing is name else \
                "the task: what should the agent do?"
            self.query_one("#hint", Label).update(f"needed: {what}")
            missing.focus()
            return
        self.dismiss((name.value, task.value, self.query_one("#plan", Checkbox).value))

    def action_cancel(self) -> None:
        self.dismiss(None)
