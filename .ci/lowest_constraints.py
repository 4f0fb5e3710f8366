"""Print a pip constraints file that pins every dependency of dflow to its declared floor.

The floors in pyproject.toml are the single source: `name>=X` (or `>=X,<Y`) becomes `name==X`.
The lowest-versions CI job installs with it (`pip install -c`), so a floor that is too low fails
CI instead of a user's install (decision 0970). Extras are included with `--extra NAME`.

    python .ci/lowest_constraints.py --extra dev > lowest.txt
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_FLOOR = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$")


def floor_pin(requirement: str) -> str | None:
    """`typer>=0.26` -> `typer==0.26`; None when the requirement names no `>=` floor."""
    match = _FLOOR.match(requirement.split(";")[0])
    if match is None:
        return None
    name, _, spec = match.groups()
    lows = [part.strip()[2:].strip() for part in spec.split(",") if part.strip().startswith(">=")]
    return f"{name}=={lows[0]}" if lows else None


def constraints(extras: list[str]) -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    pins = [floor_pin(r) for r in requirements]
    return [p for p in pins if p is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", action="append", default=[], help="also pin this extra")
    args = parser.parse_args()
    sys.stdout.write("".join(f"{line}\n" for line in constraints(args.extra)))


if __name__ == "__main__":
    main()
