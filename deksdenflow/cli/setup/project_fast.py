"""`dflow project show` before Typer: the header (which names the tip), project.toml as it is
on the ref, and the keys the environment or the user config override — read by the read side
(reads/project.py, through the cache keyed by what the effective settings depend on). Text
Rich would change (a tab, a control character, a console too narrow for the heading) leaves
the answer to the command (docs/decisions/1311-project-show-before-typer.md).
"""

from __future__ import annotations

import os

from ...reads.project import PROJECT_SOURCE
from .. import fast

OVERRIDDEN = "# overridden here:"  # the one line the command lets Rich wrap


def print_fast(argv: list[str]) -> bool:
    """`dflow project show` (exactly); False when the command must answer."""
    if argv != ["project", "show"]:
        return False
    return fast.run("project", _answer)


def _answer(common: str, tip: str) -> str | None:
    from ...reads.project import project_at

    body, overridden = project_at(common, tip)
    text = "\n".join([header(tip), body.rstrip(), *overrides_part(overridden)])
    if not all(line.isprintable() for line in text.split("\n")):
        return None  # Rich drops control characters and expands tabs: the command prints it
    return text + "\n"


def header(tip: str) -> str:
    return f"# {PROJECT_SOURCE} (tip {tip[:12]})"


def overrides_part(found: list[str]) -> list[str]:
    """The `# overridden here:` lines (none when nothing is)."""
    if not found:
        return []
    if _narrow(len(OVERRIDDEN)):
        raise ValueError("a console too narrow for the heading: Rich wraps it")
    return ["", OVERRIDDEN, *found]


def _narrow(width: int) -> bool:
    """Could Rich's console be narrower than `width`? (COLUMNS, else a terminal's size.)"""
    sizes = [os.environ.get("COLUMNS", "")]
    for fd in (0, 1, 2):
        try:
            sizes.append(str(os.get_terminal_size(fd).columns))
        except OSError:
            continue
    return any(size.isdigit() and int(size) < width for size in sizes)

