"""What `dflow show` prints, from plain data: the one renderer of the command and its fast path.

`show_cmds` fills a `Shown` from the service's `RunDetail`; `show_fast` fills one from the
state tree's JSON before Typer is imported (docs/decisions/1313-show-before-typer.md). Both
print it here, with the same Rich calls, so the bytes differ only if the data does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from ... import environment
from ..table import print_lines
from ..text import shown, styled, tokens

TYPE_CHECKING = False
if TYPE_CHECKING:
    from rich.console import Console

EXCERPT_LINES = 15
# How an attempt ran, as its engine reported it (nothing where the engine cannot say).
SANDBOXED = {True: "  sandboxed", False: "  unsandboxed", None: ""}
STEP_HEADERS = ("step", "title", "status", "tries", "tokens", "cost", "time", "engine",
                "commit", "qa")

T = TypeVar("T")


@dataclass
class StepRow:
    index: int
    title: str
    status: str
    attempts: int
    tokens: int
    cost: float | None
    duration_s: float
    engine: str | None
    commit: str | None
    verdict: str | None
    findings: list[str]


@dataclass
class Shown:
    """Everything `dflow show` prints, as text and numbers."""

    id: str
    status: str
    paused: bool
    branch: str
    engine: str | None
    waiting: str  # the `waits: ...` line, "" while the run moves
    task: str
    blocks: list[tuple[str, str]]
    plan_path: str
    plan: str
    steps: list[StepRow]
    graph: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # the `conflict ahead?` lines
    ci: tuple[str, str, str, str] | None = None  # status, commit, url, excerpt
    notes: list[tuple[datetime, str, str]] = field(default_factory=list)  # at, level, text
    failures: list[tuple[datetime, str, int | None, str]] = field(default_factory=list)
    issue: str = ""  # the issue the run was made from
    review: list[str] = field(default_factory=list)  # comments waiting for a fix, one line each
    # step, kind, outcome, engine, model, sandboxed (None: the engine cannot say)
    attempts: list[tuple[int, str, str, str | None, str | None, bool | None]] = field(
        default_factory=list)
    changes: list[tuple[int, int, int, int]] = field(default_factory=list)
    transcripts: list[str] = field(default_factory=list)  # the command that prints each
    events: list[tuple[datetime, str, int | None, str, str]] = field(default_factory=list)
    stage: str = ""  # the word people see (domain/runs/stages.py); the status when empty


def render(out: Console, found: Shown) -> None:
    """The run in full: head, plan, steps, graph, facts, recent events. Every text in it
    may come from a teammate's hand-written state or the repository: none drives the
    terminal."""
    found = _printable(found)
    out.print(f"{found.id}  {styled(found.stage or found.status)}  "
              f"branch {found.branch}  engine {found.engine or 'project default'}")
    if found.waiting:
        print_lines(out, [found.waiting])
    out.print(f"task: {found.task}")
    if found.issue:
        out.print(f"issue: {found.issue}", markup=False)
    if found.review:
        print_lines(out, ["review comments waiting for a fix:", *found.review])
    print_lines(out, [f"blocked by {key}: {why}" for key, why in found.blocks])
    out.print(f"\n--- {found.plan_path} ---" if found.plan else "\nno plan yet")
    if found.plan:
        out.print(found.plan.rstrip(), markup=False)
    _steps(out, found.steps)
    print_lines(out, [f"step {s.index:02d} QA findings: " + "; ".join(s.findings)
                      for s in found.steps if s.verdict == "FAIL"])
    render_graph(out, found.graph, found.conflicts)
    render_facts(out, found)
    out.print("\nrecent events:")
    here = environment.actor()
    print_lines(out, [f"  {at:%H:%M:%S} {kind}{'' if step is None else f'/{step:02d}'} "
                      f"{origin(actor, here)}{'  ' + detail if detail else ''}"
                      for at, kind, step, actor, detail in found.events])


def origin(actor: str, here: str) -> str:
    """The event's author; one another clone wrote says so (its actor is `user@host` there)."""
    if actor == here:
        return actor
    return f"{actor} (from another clone{'' if '@' in actor else ', host unknown'})"


def _steps(out: Console, steps: list[StepRow]) -> None:
    from rich.table import Table  # why: start-up

    rows = [
        (f"{s.index:02d}", s.title, s.status, str(s.attempts), tokens(s.tokens),
         "-" if s.cost is None else f"${s.cost:.4f}", f"{s.duration_s:.1f}s",
         f"{s.engine or '-'}", (s.commit or "-")[:9], "-" if s.verdict is None else s.verdict)
        for s in steps
    ]
    table = Table(box=None, padding=(0, 1, 0, 0), pad_edge=False)
    widths = [max([len(name), *(len(r[i]) for r in rows)])
              for i, name in enumerate(STEP_HEADERS)]
    # The title gives way on a narrow terminal; the figures keep their full width.
    room = out.width - (sum(widths) - widths[1]) - len(STEP_HEADERS)
    for i, name in enumerate(STEP_HEADERS):
        width = max(10, min(widths[1], room)) if name == "title" else widths[i]
        table.add_column(name, no_wrap=True, overflow="ellipsis", width=width)
    for row in rows:
        table.add_row(*row[:2], styled(row[2]), *row[3:])
    if steps:
        out.print()
        out.print(table)


def render_graph(out: Console, graph: list[str], conflicts: list[str]) -> None:
    """The step graph of a parallel run, and the conflicts seen coming."""
    if graph:
        out.print("\nstep graph (← what a step waits for):")
        print_lines(out, [f"  {line}" for line in graph])
    print_lines(out, conflicts)


def render_facts(out: Console, found: Shown) -> None:
    """CI, notes, failures, attempts, changes, transcripts."""
    _ci(out, found.ci)
    _section(out, "notes:", [
        f"  {at:%H:%M:%S} {'' if level == 'info' else f'{level}: '}{text}"
        for at, level, text in found.notes])
    _section(out, "failures:", [
        f"  {at:%H:%M:%S} {'' if step is None else f'step {step:02d} '}{kind or 'job'}: {error}"
        for at, kind, step, error in found.failures])
    _section(out, "attempts (engine/model):", [
        f"  {index:02d} {kind:<7} {outcome:<8} {engine or '-'}/{model or '-'}{SANDBOXED[sandboxed]}"
        for index, kind, outcome, engine, model, sandboxed in found.attempts])
    _section(out, "changes per step (`dflow diff RUN STEP`):", [
        f"  {index:02d} {files} file{'s' if files != 1 else ''} +{added} -{deleted}"
        for index, files, added, deleted in found.changes])
    _section(out, "transcripts:", [f"  {command}" for command in found.transcripts])


def _section(out: Console, heading: str, lines: list[str]) -> None:
    """A blank line, the heading, then the lines as they are (nothing when there are none)."""
    if lines:
        out.print(f"\n{heading}")
        print_lines(out, lines, soft_wrap=True)


def _ci(out: Console, ci: tuple[str, str, str, str] | None) -> None:
    if ci is None:
        return
    status, commit, url, excerpt = ci
    out.print(f"\nCI: {status}{f' at {commit[:9]}' if commit else ''}{f' {url}' if url else ''}",
              markup=False, soft_wrap=True)
    if excerpt:
        lines = excerpt.rstrip().splitlines()[-EXCERPT_LINES:]
        out.print("  log (redacted, last lines):")
        print_lines(out, [f"  | {line}" for line in lines], soft_wrap=True)


def review_line(reviewer: str, state: str, body: str, file: str, line: int | None) -> str:
    """One pending review comment as `show` prints it: where, who, the first line of it."""
    where = f"{file}:{line}" if file and line else (file or "the whole change")
    from ...domain.agents.redaction import strip_controls  # why: start-up

    first = (body.strip().splitlines() or [""])[0]
    return strip_controls(f"  {where} ({reviewer or 'reviewer'}, {state}): {first[:120]}")


def _printable(value: T) -> T:
    """`value` with every string in it as `shown` prints it (dataclasses, lists, tuples)."""
    if isinstance(value, str):
        return shown(value)  # type: ignore[return-value]
    if isinstance(value, list | tuple):
        return type(value)(_printable(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: _printable(getattr(value, f.name))
                                             for f in dataclasses.fields(value) if f.init})
    return value
