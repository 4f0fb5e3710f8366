"""A run's transcripts numbered per step and kind in the order they ran (no models: `dflow
show`'s fast path reads them too; workflow/lifecycle/facts.py makes its models from these)."""

from __future__ import annotations

import re

_TRANSCRIPT = re.compile(
    r"^transcripts/(?:(?P<step>\d+)-(?P<kind>execute|qa)|(?P<other>[a-z-]+?))"
    r"-(?P<job>[0-9A-Z]{26})(?:-(?P<attempt>\d+))?\.log$")


def numbered(run_id: str, names: list[str]) -> list[tuple[str, int | None, str, int, str]]:
    """(name, step, kind, attempt, the command that prints it) for each transcript."""
    parsed = []
    for name in names:
        m = _TRANSCRIPT.match(name)
        if m is None:
            continue
        step = int(m["step"]) if m["step"] else None
        kind = m["kind"] or m["other"]
        parsed.append((m["job"], int(m["attempt"] or 1), step, kind, name))
    parsed.sort()
    counts: dict[tuple[int | None, str], int] = {}
    found = []
    for _job, _n, step, kind, name in parsed:
        key = (step, kind if step is not None else "run")  # plan, fix-CI: one list per run
        counts[key] = counts.get(key, 0) + 1
        n = counts[key]
        where = f" {step}" if step is not None else ""
        flags = " --qa" if kind == "qa" else ""
        found.append((name, step, kind, n, f"dflow logs {run_id}{where}{flags} --attempt {n}"))
    return found
