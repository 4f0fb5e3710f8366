"""Log lines for `worker`, `run --wait` and `ci report`: text, or one JSON object per line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Literal

from .. import environment
from ..domain import correlation
from ..errors import UsageError

LogFormat = Literal["text", "json"]
FORMATS = ("text", "json")
ENV = "DFLOW_LOG_FORMAT"
IDS = ("project", "run", "step", "job", "attempt", "worker")


def log_format(flag: str | None) -> LogFormat:
    """--log-format > DFLOW_LOG_FORMAT > text."""
    chosen = flag or environment.text(ENV)
    if chosen == "json":
        return "json"
    if chosen == "text":
        return "text"
    where = "--log-format" if flag else ENV
    raise UsageError(f"{where} wants text or json, not '{chosen}'")


def json_line(message: str, level: str = "info", at: datetime | None = None,
              **fields: object) -> str:
    """One JSON object: time, level, message, then every correlation id (null when it does
    not apply, so a reader can rely on the keys), then any other fields."""
    bound = correlation.ids()
    record: dict[str, object] = {
        "time": (at or datetime.now(UTC)).isoformat(), "level": level, "message": message}
    for key in IDS:
        value = fields.pop(key, None)
        record[key] = value if value is not None else bound.get(key)
    record.update({k: v for k, v in fields.items() if v is not None})
    return json.dumps(record, ensure_ascii=False, default=str)
