"""Keep reads fast as commits pile up: pack loose objects off the write path."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ... import environment
from ...git import runner

# git's own heuristic: ~gc.auto (6700) loose objects estimated from one fan-out dir.
MIN_INTERVAL_S = 60.0


def after_commit(git_dir: Path) -> None:
    """Start a detached `git gc --auto` when the loose-object estimate passes the threshold."""
    sample = git_dir / "objects" / "17"
    try:
        count = len(os.listdir(sample))
    except OSError:
        return
    if count <= environment.count("DFLOW_GC_SAMPLE"):
        return
    stamp = git_dir / "deksdenflow" / "gc.stamp"
    try:
        if time.time() - stamp.stat().st_mtime < MIN_INTERVAL_S:
            return
    except OSError:
        pass
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.touch()
        runner.spawn_detached(git_dir, "gc", "--auto", "--quiet")
    except OSError:
        pass  # packing is an optimisation; never fail a write over it
