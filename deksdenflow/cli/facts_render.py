"""The facts section of `dflow show`: CI, notes, failures, attempts, changes, transcripts."""

from __future__ import annotations

from rich.console import Console

from ..workflow.detail import RunDetail
from ..workflow.facts import RunFacts

EXCERPT_LINES = 15


def render_facts(out: Console, found: RunDetail) -> None:
    facts = found.facts
    _ci(out, facts)
    if facts.notes:
        out.print("\nnotes:")
        for note in facts.notes:
            level = "" if note.level == "info" else f"{note.level}: "
            out.print(f"  {note.at:%H:%M:%S} {level}{note.text}", markup=False, soft_wrap=True)
    if facts.failures:
        out.print("\nfailures:")
        for f in facts.failures:
            where = f"step {f.step:02d} " if f.step is not None else ""
            out.print(f"  {f.at:%H:%M:%S} {where}{f.kind or 'job'}: {f.error}", markup=False,
                      soft_wrap=True)
    if facts.attempts:
        out.print("\nattempts (engine/model):")
        for a in facts.attempts:
            out.print(f"  {a.step:02d} {a.kind:<7} {a.outcome:<8} {a.engine or '-'}/"
                      f"{a.model or '-'}", markup=False, soft_wrap=True)
    if facts.changes:
        out.print("\nchanges per step (`dflow diff RUN STEP`):")
        for c in facts.changes:
            out.print(f"  {c.step:02d} {c.files} file{'s' if c.files != 1 else ''} "
                      f"+{c.added} -{c.deleted}", markup=False, soft_wrap=True)
    if facts.transcripts:
        out.print("\ntranscripts:")
        for t in facts.transcripts:
            out.print(f"  {t.command}", markup=False, soft_wrap=True)


def _ci(out: Console, facts: RunFacts) -> None:
    ci = facts.ci
    if ci is None:
        return
    url = f" {ci.url}" if ci.url else ""
    commit = f" at {ci.commit[:9]}" if ci.commit else ""
    out.print(f"\nCI: {ci.status}{commit}{url}", markup=False, soft_wrap=True)
    if ci.excerpt:
        lines = ci.excerpt.rstrip().splitlines()[-EXCERPT_LINES:]
        out.print("  log (redacted, last lines):")
        for line in lines:
            out.print(f"  | {line}", markup=False, soft_wrap=True)
