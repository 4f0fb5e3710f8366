"""Every git process dflow starts goes through deksdenflow/git (issue 12: six runners before)."""

from __future__ import annotations

import re
from pathlib import Path

import deksdenflow

PACKAGE = Path(deksdenflow.__file__).parent
# An argv that starts git by hand: ["git", ...] / ("git", ...), or a shell string "git ...".
HAND_MADE = re.compile(r"""[\[(]\s*["']git["']|["']git\s+-""")


def test_no_module_outside_the_runner_starts_git_by_hand() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for path in PACKAGE.rglob("*.py") if path.parent.name != "git"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if HAND_MADE.search(line) or "SAFE_CONFIG" in line
    ]
    assert offenders == []
