"""The crash log: the traceback of a bug goes to a file under the user's state dir."""

from __future__ import annotations

import platform
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

import platformdirs

from . import __version__


def crash_dir() -> Path:
    return Path(platformdirs.user_state_dir("dflow")) / "crashes"


def write_crash_log(exc: BaseException) -> Path | None:
    """Write the traceback with the versions; None when even that is impossible (full disk)."""
    at = datetime.now(UTC)
    path = crash_dir() / f"crash-{at:%Y%m%dT%H%M%S%fZ}.log"
    text = (
        f"dflow {__version__} on Python {platform.python_version()} ({sys.platform})\n"
        f"at {at.isoformat()}\ncommand: {' '.join(sys.argv)}\n\n"
        + "".join(traceback.format_exception(exc))
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError:
        return None
    return path
