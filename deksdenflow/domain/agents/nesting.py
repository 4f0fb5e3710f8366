"""How deep a JSON text nests, measured without parsing it: Python's parser recurses once per
level, so a 100,000-deep document is a RecursionError (a crash), not a refusal. Agent output
and state files from a remote are measured first and refused past `MAX_DEPTH`
(docs/decisions/1541-shapes-before-parsing.md)."""

from __future__ import annotations

MAX_DEPTH = 64  # dflow's own documents nest under 10 levels; agents' plans and verdicts under 6

_KEEP = frozenset('"[]{}')
_OPEN = frozenset("[{")


def too_deep(text: str | bytes, limit: int = MAX_DEPTH) -> bool:
    """True when the brackets outside strings nest deeper than `limit` (for any text: a
    malformed one is for the parser to refuse)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if text.count("[") + text.count("{") <= limit:
        return False  # cannot nest deeper than it has openers
    # Escaped backslashes, then escaped quotes, are dropped pairwise (left to right, as the
    # parser reads them), so the quotes left delimit strings: the even-numbered pieces between
    # them are outside strings. Then only quotes and brackets matter.
    text = text.replace("\\\\", "").replace('\\"', "")  # before any other character goes
    only = "".join(c for c in text if c in _KEEP) if len(text) > 4096 else text
    level = 0
    for piece in only.split('"')[::2]:
        for c in piece:
            if c in _OPEN:
                level += 1
                if level > limit:
                    return True
            elif c in "]}":
                level -= 1
    return False
