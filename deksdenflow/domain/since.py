"""What `--since` accepts: the one parser for every command that filters by time.

`today`, `yesterday`, a span (`3d`, `12h`, `2w`, `3 days ago`, `1 hour ago`) or an ISO date or
time. Days are calendar days in the local time zone, as `git log --since` reads them
(docs/decisions/1577-since-words.md); anything else is one usage error (exit 2).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from ..errors import UsageError

_UNITS = {"h": 3600, "hour": 3600, "d": 86400, "day": 86400, "w": 7 * 86400, "week": 7 * 86400}
_SPAN = re.compile(r"(\d+)\s*(h|d|w)|(\d+)\s+(hour|day|week)s?\s+ago")
DAYS_BACK = {"today": 0, "yesterday": 1}
EXPECTED = ("--since wants a span like 30d, 12h, 2w or '3 days ago', a day (today, yesterday) "
            "or a date like 2026-11-01")


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """The earliest moment `text` names (aware); None for all history (no `--since`)."""
    if text is None or not text.strip():
        return None
    now = now or datetime.now().astimezone()
    word = " ".join(text.strip().lower().split())
    if word in DAYS_BACK:
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight - timedelta(days=DAYS_BACK[word])
    span = _SPAN.fullmatch(word)
    if span:
        number, unit = (span[1], span[2]) if span[1] else (span[3], span[4])
        return now - timedelta(seconds=int(number) * _UNITS[unit])
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{EXPECTED}, not '{text}'") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=now.tzinfo)
