"""One step: its figures, summary and QA verdict, its step file, and its logs with search."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import (
    Footer,
    Header,
    Input,
    Log,
    Markdown,
    OptionList,
    Static,
    TabbedContent,
    TabPane,
)

from ...domain.runs.models import RunSnapshot, StepRun
from ...observe.watch import Change
from ...workflow.lifecycle import documents
from .. import rows
from ..widgets.diff_view import DiffView
from .base import StateScreen


class StepDetailScreen(StateScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("slash", "search", "Search", key_display="/"),
        Binding("1", "tab('summary')", "Summary", show=False),
        Binding("2", "tab('file')", "Step file", show=False),
        Binding("3", "tab('logs')", "Logs", show=False),
        Binding("4", "tab('diff')", "Diff", show=False),
    ]

    def __init__(self, uid: str, index: int) -> None:
        super().__init__()
        self.uid = uid
        self.index = index
        self.artifact = ""
        self.names: list[str] | None = None
        self.shown = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="step-head")
        with TabbedContent(initial="summary"):
            with TabPane("Summary [1]", id="summary"), VerticalScroll(id="summary-scroll"):
                yield Markdown(id="summary-md")
            with TabPane("Step file [2]", id="file"), VerticalScroll(id="file-scroll"):
                yield Markdown(id="file-md")
            with TabPane("Logs [3]", id="logs"), Horizontal():
                yield OptionList(id="artifacts")
                with Vertical():
                    yield Input(placeholder="/ search this log", id="search")
                    yield Log(id="artifact-log", highlight=False)
            with TabPane("Diff [4]", id="diff"):
                yield DiffView(id="diff-view")
        yield Footer()

    def parts(self) -> tuple[RunSnapshot, StepRun] | None:
        snap = self.watcher.run(self.uid)
        step = snap.step(self.index) if snap is not None else None
        return (snap, step) if snap is not None and step is not None else None

    def on_mount(self) -> None:
        self.show_all()

    def show_all(self) -> None:
        found = self.parts()
        if found is None:
            self.query_one("#step-head", Static).update("this step is gone from the state ref")
            return
        snap, step = found
        self.query_one("#step-head", Static).update(head(snap, step))
        self.query_one("#summary-md", Markdown).update(summary_markdown(step))
        view = self.watcher.view
        step_file = documents.step_markdown(self.console.project, view, snap, step)
        self.query_one("#file-md", Markdown).update(step_file)
        names = documents.step_artifacts(view, snap, self.index)
        if names != self.names:
            self.names = names
            options = self.query_one("#artifacts", OptionList)
            options.clear_options()
            options.add_options(names or ["(no logs yet)"])
            if names and self.artifact not in names:
                self.artifact = names[0]
        self.show_artifact()
        if self.query_one(TabbedContent).active == "diff":
            self.show_diff()

    def show_diff(self) -> None:
        """This step's commit, with its QA findings beside it."""
        found = self.parts()
        if found is None:
            return
        snap, step = found
        diff, why = documents.diff_for(self.console.project, snap, step.index)
        self.query_one(DiffView).show(diff, why, documents.findings_for(snap, step.index))

    def show_artifact(self) -> None:
        found = self.parts()
        text = documents.artifact_text(self.watcher.view, found[0], self.artifact) if found else ""
        query = self.query_one("#search", Input).value.strip()
        if query:
            hits = documents.search_lines(text, query)
            body = "\n".join(f"{n:>5}: {line}" for n, line in hits) or f"no line matches '{query}'"
        else:
            body = text
        if body != self.shown:
            self.shown = body
            log = self.query_one("#artifact-log", Log)
            log.clear()
            log.write(body)
            log.scroll_home(animate=False)

    def state_changed(self, change: Change) -> None:
        if self.uid in change.runs:
            self.show_all()

    def target(self) -> tuple[str | None, int | None]:
        return self.uid, self.index

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        focus = {"summary": "#summary-scroll", "file": "#file-scroll", "logs": "#artifacts",
                 "diff": "#diff-files"}
        self.query_one(focus[tab]).focus()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "diff":
            self.show_diff()

    def action_search(self) -> None:
        self.action_tab("logs")
        self.query_one("#search", Input).focus()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if self.names and event.option_index < len(self.names):  # not "(no logs yet)"
            self.artifact = self.names[event.option_index]
            self.show_artifact()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.show_artifact()


def head(snap: RunSnapshot, step: StepRun) -> Text:
    text = Text.assemble((f"{snap.run.id} / step {step.index:02d}", "bold"), "  ",
                         rows.status_text(step.status.value), f"  {step.type.value}  {step.title}")
    engine = f"{step.engine or '-'}{'/' + step.model if step.model else ''}"
    text.append(f"\ntries {step.attempts}  engine {engine}  tokens {rows.tokens(step.usage.total)}"
                f"  cost {rows.money(step.cost)}  time {rows.duration(step.duration_s)}")
    if step.reason:
        text.append(f"\n{step.reason}", style="yellow")
    return text


def summary_markdown(step: StepRun) -> str:
    lines = ["## Summary", "", step.summary or "_No summary yet._", ""]
    if step.qa is None:
        lines += ["## QA", "", "_No verdict yet._"]
        return "\n".join(lines)
    lines += [f"## QA: {step.qa.verdict}", "", step.qa.summary or ""]
    if step.qa.findings:
        lines += ["", "### Findings", ""] + [f"- {f}" for f in step.qa.findings]
    return "\n".join(lines)
