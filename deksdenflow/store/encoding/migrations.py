"""Migrations of stored documents from older schema versions (registered in codec.py).

Each takes a document of version n and returns one of version n+1; each has a test that
feeds it a document a real older dflow wrote (tests/store/test_old_ref.py)."""

from __future__ import annotations

from typing import Any


def event_v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    """Event schema 1 -> 2 (typed payloads): a run.note's words are `text`; the budget
    warning of schema 1 wrote them as `reason` (both kept, as `dflow show` showed them)."""
    data = doc.get("data")
    if doc.get("type") == "run.note" and isinstance(data, dict) and "reason" in data:
        data = dict(data)
        parts = [str(p) for p in (data.get("text"), data.pop("reason")) if p]
        data["text"] = " — ".join(dict.fromkeys(parts))
        doc["data"] = data
    return doc
