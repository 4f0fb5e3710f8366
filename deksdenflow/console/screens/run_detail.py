"""One run: its steps with their figures, the plan as Markdown, the live event timeline."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Markdown, Static, TabbedContent, TabPane

from ...domain.config.settings import ProjectSettings
from ...domain.decisions.reconcile import waiting
from ...domain.eventlog.alerts import newest
from ...domain.runs.models import RunSnapshot, StepStatus
from ...observe.watch import Change
from ...workflow.delivery.conflicts import graph_lines
from ...workflow.lifecycle import documents
from .. import rows
from ..widgets.diff_view import DiffView
from .base import StateScreen
from .step_detail import StepDetailScreen

EVENTS_SHOWN = 500


class RunDetailScreen(StateScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("1", "tab('steps')", "Steps", show=False),
        Binding("2", "tab('plan')", "Plan", show=False),
        Binding("3", "tab('timeline')", "Timeline", show=False),
        Binding("4", "tab('diff')", "Diff", show=False),
    ]

    def __init__(self, uid: str) -> None:
        super().__init__()
        self.uid = uid
        self.step_keys: list[int] = []
        self.event_ids: set[str] = set()
        self.plan_text = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="run-head")
        with TabbedContent(initial="steps"):
            with TabPane("Steps [1]", id="steps"):
                table: DataTable[object] = DataTable(id="step-table", cursor_type="row")
                for name in rows.STEP_COLUMNS:
                    table.add_column(name, key=name)
                yield table
            with TabPane("Plan [2]", id="plan"), VerticalScroll(id="plan-scroll"):
                yield Markdown(id="plan-md")
            with TabPane("Timeline [3]", id="timeline"):
                events: DataTable[object] = DataTable(id="event-table", cursor_type="row")
                for name in rows.EVENT_COLUMNS:
                    events.add_column(name, key=name)
                yield events
            with TabPane("Diff [4]", id="diff"):
                yield DiffView(id="diff-view")
        yield Footer()

    @property
    def snap(self) -> RunSnapshot | None:
        return self.watcher.run(self.uid)

    def on_mount(self) -> None:
        self.show_all()
        snap = self.snap
        if snap is not None:
            pending = [i for i, s in enumerate(snap.steps) if s.status != StepStatus.COMPLETED]
            if pending:
                self.query_one("#step-table", DataTable).move_cursor(row=pending[0], animate=False)
        self.query_one("#step-table", DataTable).focus()

    def show_all(self) -> None:
        snap = self.snap
        if snap is None:
            self.query_one("#run-head", Static).update("this run is gone from the state ref")
            return
        text = head(snap, self.console.project.settings(self.watcher.view))
        for line in graph_lines(snap) if snap.run.parallel else []:  # the step graph, live
            text.append(f"\n  {line}")
        self.query_one("#run-head", Static).update(text)
        self.show_steps(snap)
        self.show_plan(snap)
        self.show_events()
        if self.query_one(TabbedContent).active == "diff":
            self.show_diff(snap)

    def show_diff(self, snap: RunSnapshot) -> None:
        """The run against its merge base, with every step's QA findings beside it."""
        found, why = documents.diff_for(self.console.project, snap)
        self.query_one(DiffView).show(found, why, documents.findings_for(snap))

    def show_steps(self, snap: RunSnapshot) -> None:
        table = self.query_one("#step-table", DataTable)
        keys = [s.index for s in snap.steps]
        if keys != self.step_keys:
            table.clear()
            for step in snap.steps:
                table.add_row(*rows.step_cells(step), key=str(step.index))
            self.step_keys = keys
            return
        for step in snap.steps:
            for column, value in zip(rows.STEP_COLUMNS, rows.step_cells(step), strict=True):
                table.update_cell(str(step.index), column, value)

    def show_plan(self, snap: RunSnapshot) -> None:
        text = documents.plan_markdown(self.console.project, self.watcher.view, snap)
        if text != self.plan_text:
            self.plan_text = text
            self.query_one("#plan-md", Markdown).update(text)

    def show_events(self) -> None:
        """Append the events not shown yet (the timeline only grows)."""
        view = self.watcher.view
        if view is None:
            return
        table = self.query_one("#event-table", DataTable)
        fresh = [e for e in view.run_events(self.uid) if e.id not in self.event_ids]
        at_end = table.cursor_row >= table.row_count - 1
        for event in fresh[-EVENTS_SHOWN:]:
            table.add_row(*rows.event_cells(event), key=event.id)
            self.event_ids.add(event.id)
        if fresh and at_end:
            table.move_cursor(row=table.row_count - 1, animate=False)

    def state_changed(self, change: Change) -> None:
        if self.uid in change.runs or self.uid in change.removed:
            self.show_all()

    def target(self) -> tuple[str | None, int | None]:
        table = self.query_one("#step-table", DataTable)
        if not self.step_keys or not 0 <= table.cursor_row < len(self.step_keys):
            return self.uid, None
        return self.uid, self.step_keys[table.cursor_row]

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        focus = {"steps": "#step-table", "plan": "#plan-scroll", "timeline": "#event-table",
                 "diff": "#diff-files"}
        self.query_one(focus[tab]).focus()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        snap = self.snap
        if event.pane.id == "diff" and snap is not None:
            self.show_diff(snap)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:

        if event.data_table.id == "step-table" and event.row_key.value is not None:
            self.app.push_screen(StepDetailScreen(self.uid, int(event.row_key.value)))


def head(snap: RunSnapshot, settings: ProjectSettings) -> Text:
    """Two or three lines: id and status, the task, and what blocks or links the run (why it
    waits as the effective settings decide, this machine's settings trust included)."""
    run = snap.run
    text = Text.assemble((run.id, "bold"), "  ", rows.stage_text(snap, settings),
                         f"  {snap.steps_done}/{len(snap.steps)} steps  branch {run.branch or '-'}"
                         f"  {rows.tokens(run.usage.total)} tokens  {rows.money(run.cost)}")
    text.append(f"\n{run.task}")
    waits = waiting(snap, settings)
    extra = [] if waits is None else [f"waits: {waits.reason} — {waits.command}"]
    if waits is None or not waits.reason.startswith("blocked by"):
        extra += [f"blocked by {k}: {why}" for k, why in run.blocks.items()]
    if run.pr_url:
        extra.append(f"PR {run.pr_url}")
    if run.ci is not None:
        extra.append(f"CI {run.ci.status}")
    extra += [f"alert: {alert.text}" for alert in newest(run.alerts)]
    if extra:
        text.append("\n" + "  ·  ".join(extra), style="yellow")
    return text
