"""Fault points: the places where a test stops dflow to kill it there. The one module that
knows them; production code names a point (`faults.point("new.recorded")`) and nothing else.

`DFLOW_TEST_PAUSE_AT=<point>` makes the process that reaches that point say so on stderr and
sleep, so the test can SIGKILL it at a known moment (decision 0831). Unset, a point costs one
environment look-up. Never set it outside tests.
"""

from __future__ import annotations

import sys
import time

from . import environment

PAUSE_ENV = "DFLOW_TEST_PAUSE_AT"
# Every point there is, so a test (and a reader) can see them in one place.
POINTS = ("new.before-worktree", "new.worktree-made", "new.recorded")
# A step's execution, just before its agent starts: `execute.step-NN` (decision 1503).
STEP_POINT = "execute.step-"


def point(name: str) -> None:
    """Stop here for an hour when DFLOW_TEST_PAUSE_AT names this point."""
    assert name in POINTS or name.startswith(STEP_POINT), name  # a typo, else
    if environment.text(PAUSE_ENV) != name:
        return
    sys.stderr.write(f"paused at {name}\n")
    sys.stderr.flush()
    time.sleep(3600)
