"""A run's *stage*: the one word people see for where a run is (DESIGN.md, Vocabulary).

The machine status (`pending … completed`, `blocked`, `failed`, `cancelled`) stays in
`status --json` as `status`, with `paused` and `waiting` beside it; every table, line, screen
and hint words a run with its stage, computed here and nowhere else
(docs/decisions/1570-one-word-for-where-a-run-is.md). Standard library only: the fast read
paths, which load no models, call it with the snapshot's plain fields.
"""

from __future__ import annotations

STAGES = ("pending", "planning", "running", "waiting", "paused", "blocked", "ready to land",
          "merged", "cancelled", "failed")


def stage(status: str, *, paused: bool = False, merged: bool = False,
          waiting: bool = False) -> str:
    """The stage of a run with this machine `status`; `waiting`: the reconciler recorded why
    it does not move (a person has to act) and it is not blocked."""
    if status in ("cancelled", "failed"):
        return status  # terminal: a cancelled run is not also "paused"
    if status == "completed":
        return "merged" if merged else "ready to land"
    if paused:
        return "paused"
    if status == "blocked":
        return "blocked"
    if waiting:
        return "waiting"
    if status in ("pending", "planning"):
        return status
    return "running"  # planned, running: work is open or under way
