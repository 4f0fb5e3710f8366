"""The committed schemas are what the pydantic models generate, and OpenAI-strict shaped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deksdenflow.domain import schemas

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted([*schemas.SCHEMAS, *schemas.STATE_SCHEMAS]))
def test_committed_schema_matches_the_model(name: str) -> None:
    committed = (ROOT / "schemas" / f"{name}.schema.json").read_text()
    assert committed == schemas.render(name), (
        f"schemas/{name}.schema.json is stale; run `python -m deksdenflow.domain.schemas`")


def _objects(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if node.get("type") == "object":
            found.append(node)
        for value in node.values():
            found.extend(_objects(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_objects(value))
    return found


@pytest.mark.parametrize("name", sorted(schemas.SCHEMAS))
def test_every_object_is_closed_and_requires_all_its_keys(name: str) -> None:
    for obj in _objects(json.loads(schemas.render(name))):
        assert obj["additionalProperties"] is False
        assert sorted(obj["required"]) == sorted(obj["properties"])


def test_the_generator_writes_every_file(tmp_path: Path) -> None:
    assert schemas.main([str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "event.schema.json", "plan.schema.json", "qa.schema.json"]


def test_the_event_schema_has_one_variant_per_event_type_discriminated_by_type() -> None:
    from deksdenflow.domain.eventlog.events import EventType

    schema = json.loads(schemas.render("event"))
    assert schema["discriminator"]["propertyName"] == "type"
    assert set(schema["discriminator"]["mapping"]) == {t.value for t in EventType}
    note = schema["$defs"]["RunNote"]
    assert note["additionalProperties"] is False and "text" in note["properties"]
