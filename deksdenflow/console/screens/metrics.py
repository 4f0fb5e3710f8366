"""`m`: the figures of `dflow report` for this project — totals, a table per engine, model,
variant or step type (`b` switches), tokens and cost per day, QA pass rate and errors."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Sparkline, Static

from ...observe import report as reporting
from ...observe.report import Report
from ...observe.watch import Change
from .. import rows
from .base import StateScreen

GROUP_COLUMNS = ("steps", "attempts", "tokens", "cost", "time", "QA pass", "errors")
RATE_COLUMNS = ("QA pass rate", "error rate")
BAR_CELLS = 20


class MetricsScreen(StateScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("b", "regroup", "Group by"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.by = "model"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="metrics-head")
        yield DataTable(id="metrics-groups", cursor_type="row", zebra_stripes=True)
        yield Static("tokens per day", id="tokens-title", classes="metrics-title")
        yield Sparkline([], id="tokens-per-day")
        yield Static("cost per day", id="cost-title", classes="metrics-title")
        yield Sparkline([], id="cost-per-day")
        yield DataTable(id="metrics-rates", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.show()

    def state_changed(self, change: Change) -> None:
        self.show()

    def action_regroup(self) -> None:
        groupings = reporting.GROUPINGS
        self.by = groupings[(groupings.index(self.by) + 1) % len(groupings)]
        self.show()

    def show(self) -> None:
        """Read the report afresh (the same figures as `dflow report --by BY`)."""
        found = reporting.for_project(self.console.project, by=self.by)
        self.query_one("#metrics-head", Static).update(_head(found))
        _fill_groups(self.query_one("#metrics-groups", DataTable), found)
        days = found.days[-30:]
        self.query_one("#tokens-per-day", Sparkline).data = _bars([d.tokens for d in days])
        self.query_one("#cost-per-day", Sparkline).data = _bars([d.cost for d in days])
        self.query_one("#tokens-title", Static).update(_span("tokens per day", found))
        self.query_one("#cost-title", Static).update(_span("cost per day", found))
        _fill_rates(self.query_one("#metrics-rates", DataTable), found)


def _bars(values: list[float] | list[int]) -> list[float]:
    """Nothing to draw when nothing was spent: a Sparkline of zeros draws full bars."""
    return [float(v) for v in values] if any(values) else []


def _head(found: Report) -> Text:
    if not found.total.attempts and not found.total.tokens:
        return Text(f"{found.project}: nothing spent yet (steps record tokens, cost and QA "
                    "verdicts as they run)")
    return Text(f"{found.project}: {found.runs} runs, {rows.tokens(found.total.tokens)} tokens, "
                f"${found.total.cost:.2f}, grouped by {found.by} (b: group by another)")


def _span(title: str, found: Report) -> str:
    days = found.days[-30:]
    return f"{title} ({days[0].day} … {days[-1].day})" if days else f"{title} (none yet)"


def _fill_groups(table: DataTable[object], found: Report) -> None:
    table.clear(columns=True)
    table.add_columns(found.by, *GROUP_COLUMNS)
    for g in [*found.groups, found.total]:
        table.add_row(rows.plain(g.key), str(g.steps), str(g.attempts), rows.tokens(g.tokens),
                      f"${g.cost:.2f}", rows.duration(g.duration_s), _pct(g.qa_pass_rate),
                      _pct(g.error_rate))


def _fill_rates(table: DataTable[object], found: Report) -> None:
    table.clear(columns=True)
    table.add_columns(found.by, *RATE_COLUMNS)
    for g in found.groups:
        if g.qa_pass_rate is not None or g.error_rate is not None:
            table.add_row(rows.plain(g.key), _rate_bar(g.qa_pass_rate, "green"),
                          _rate_bar(g.error_rate, "red"))


def _rate_bar(rate: float | None, style: str) -> Text:
    """A bar of BAR_CELLS cells for a rate, then the percentage."""
    if rate is None:
        return Text("-")
    filled = round(rate * BAR_CELLS)
    bar = Text("█" * filled, style=style)
    bar.append("░" * (BAR_CELLS - filled), style="dim")
    bar.append(f" {_pct(rate)}")
    return bar


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


