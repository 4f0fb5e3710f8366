"""`dflow report` as tables and terminal bar charts (Rich; docs/decisions/1200)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from ...observe.report import Report
from ..render import is_plain, tokens

EIGHTHS = " ▏▎▍▌▋▊▉█"
BAR_WIDTH = 40


def bar(value: float, top: float, width: int = BAR_WIDTH) -> str:
    """A horizontal bar, in eighths of a cell (`#` in plain output)."""
    if top <= 0 or value <= 0:
        return ""
    cells = value / top * width
    if is_plain():
        return "#" * max(1, round(cells))
    whole, part = int(cells), int((cells - int(cells)) * 8)
    return "█" * whole + (EIGHTHS[part] if part else "") or "▏"


def chart(out: Console, title: str, rows: Sequence[tuple[str, float, str]]) -> None:
    """Label, value, shown value: one bar per row, scaled to the largest."""
    out.print(f"\n{title}")
    if not rows:
        out.print("  (nothing in this period)")
        return
    top = max(v for _, v, _ in rows)
    width = max(len(label) for label, _, _ in rows)
    for label, value, shown in rows:
        out.print(f"  {label:<{width}}  {bar(value, top)} {shown}", markup=False)


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def render(out: Console, report: Report) -> None:
    since = report.since.date().isoformat() if report.since else "the beginning"
    out.print(f"{report.project}: {report.runs} runs since {since}, {tokens(report.total.tokens)}"
              f" tokens, ${report.total.cost:.2f}", markup=False)
    table = Table(report.by, "steps", "attempts", "tokens", "cost", "time", "QA pass",
                  "errors", box=None)
    for g in [*report.groups, report.total]:
        table.add_row(g.key, str(g.steps), str(g.attempts), tokens(g.tokens), f"${g.cost:.2f}",
                      f"{g.duration_s:.0f}s", _pct(g.qa_pass_rate), _pct(g.error_rate))
    out.print(table)
    days = report.days[-30:]
    chart(out, "tokens per day", [(d.day, d.tokens, tokens(d.tokens)) for d in days])
    chart(out, "cost per day", [(d.day, d.cost, f"${d.cost:.2f}") for d in days])
    chart(out, "step duration (seconds, attempts summed)",
          [(f"<= {b.le}", b.steps, str(b.steps)) for b in report.durations])
    rated = [g for g in report.groups if g.qa_pass_rate is not None]
    chart(out, f"QA pass rate by {report.by}",
          [(g.key, g.qa_pass_rate or 0.0, _pct(g.qa_pass_rate)) for g in rated])
    erred = [g for g in report.groups if g.error_rate is not None]
    chart(out, f"error rate by {report.by}",
          [(g.key, g.error_rate or 0.0, _pct(g.error_rate)) for g in erred])
