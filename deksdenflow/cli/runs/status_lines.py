"""The listing of every run (`dflow status`, `dflow status --json`) as this face prints it.

The lines come from the read side (reads/listing.py: each run's line kept by run tree id and
settings key, handed over by the writer); this module prints them, and answers `dflow status`
and `dflow status --json` from `cli/main.py` before Typer or pydantic is imported, when
nothing unusual is asked for.
"""

from __future__ import annotations

import os

from ...reads import gitdir
from ...reads.excerpts import Excerpt
from ..text import ago, console, styled, tokens

EMPTY = "no protocol runs yet; start one with `dflow new NAME --task TEXT`"
HEADERS = ("id", "status", "steps", "jobs", "tokens", "updated")


# --- printing -----------------------------------------------------------------------------


def stage_markup(status: str, stage: str) -> str:
    """The run's stage, styled (domain/runs/stages.py); its status where a line has no stage."""
    return styled(stage or status)


def print_listing(found: list[Excerpt], empty: str = EMPTY) -> None:
    """The status table of every run, then why each waiting run waits."""
    from datetime import datetime

    from ..table import plain_console, print_lines, print_table

    out = plain_console() or console()  # Rich only when it decides what we cannot tell
    if not found:
        print_lines(out, [empty])  # no markup in it: what `out.print(empty)` printed
        return
    rows = [[line.id, stage_markup(line.status, line.stage),
             f"{line.done}/{line.total}", line.jobs, tokens(line.tokens),
             ago(datetime.fromisoformat(line.updated) if line.updated else None)]
            for line in found]
    print_table(out, HEADERS, rows)
    print_lines(out, [f"{line.id} {line.waits}" for line in found if line.waits]
                + alert_notes(found))


def alert_notes(found: list[Excerpt]) -> list[str]:
    """`<run> alert: <text>`, the highest alert per budget and period: a month's once, though
    several runs (or clones, before their merge) recorded it (decision 1224)."""
    best: dict[str, tuple[float, str]] = {}
    for line in found:
        for prefix, threshold, text in line.alerts:
            key, level = str(prefix), float(threshold)  # type: ignore[arg-type]
            if key not in best or level > best[key][0]:
                best[key] = (level, f"{line.id} alert: {text}")
    return [note for _, note in best.values()]


# --- the fast path ------------------------------------------------------------------------


def print_fast(argv: list[str]) -> bool:
    """`dflow status [--json]` without Typer; False when the regular command must answer
    (anything unusual: not initialised, a tip the store has not verified, an error)."""
    as_json = argv == ["status", "--json"]
    if not as_json and argv != ["status"]:
        return False
    common = gitdir.common_dir_of(os.getcwd())
    if common is None:
        return False
    refs = gitdir.refs_key(common)  # as before the implicit sync, like status_json's key

    def body(common: str, _tip: str) -> str | None:
        from ...reads import listing

        if as_json:
            text = listing.json_at_tip(common, refs)
            return None if text is None else text + "\n"
        found = listing.at_tip(common)
        if found is None:
            return None
        print_listing(found)
        return ""

    from .. import fast

    return fast.run("status", body, common)
