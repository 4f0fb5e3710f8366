"""The shape of agent text that is shown as one line (step titles, summaries, findings): one
line, capped, with no control or invisible format character. A newline in a title would
otherwise add lines to `run --wait` and paragraphs (a forged `Dflow-Job:` trailer) to a commit
message, and a 20 MB title would be stored whole and overflow `git commit`'s argument
(docs/decisions/1542-agent-text-has-a-shape.md)."""

from __future__ import annotations

import re

from .redaction import strip_controls

TITLE_CHARS = 200
SUMMARY_CHARS = 2000
_SPACE = re.compile(r"\s+")


def one_line(text: str, limit: int) -> str:
    """`text` with every run of whitespace (newlines too) folded into one space, stripped of
    control and format characters, cut to `limit` characters with an ellipsis."""
    # Cut first (with room for what folding removes), so a huge text is never scanned whole.
    head = text[: limit * 4 + 64]
    line = _SPACE.sub(" ", strip_controls(head.replace("\n", " ").replace("\r", " "))).strip()
    if len(line) > limit or len(head) < len(text):
        return line[: limit - 1].rstrip() + "…"
    return line
