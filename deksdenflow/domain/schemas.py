"""JSON schemas for agent output and for the events on the state ref, generated from the
pydantic models.

`python -m deksdenflow.domain.schemas [DIR]` rewrites `schemas/*.schema.json`; a test fails
when the committed files differ from what the models generate.
"""

from __future__ import annotations

import copy
import json
import sys
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter, create_model

from .agents.agent_output import PlanOutput, QaVerdict
from .eventlog.events import Event
from .eventlog.payloads import PAYLOADS

SCHEMAS: dict[str, type[BaseModel]] = {"plan": PlanOutput, "qa": QaVerdict}
STATE_SCHEMAS = ("event",)  # what dflow itself stores; not agent output


def schema_for(name: str) -> dict[str, Any]:
    """The JSON schema of one agent output kind ('plan' or 'qa'), or of an event."""
    if name == "event":
        return event_schema()
    return copy.deepcopy(_agent_schema(name))  # the caller's own copy


@cache
def _agent_schema(name: str) -> dict[str, Any]:
    """Generated once per process: pydantic builds it anew on every call (~0.2-0.7 ms, once
    per plan and per QA)."""
    return SCHEMAS[name].model_json_schema()


def event_schema() -> dict[str, Any]:
    """An event file on the state ref: one variant per type, discriminated by `type`, each
    with its payload model as `data`."""
    variants = tuple(
        create_model(f"{model.__name__}Event", __base__=Event,
                     type=(Literal[kind], ...), data=(model, ...))  # type: ignore[arg-type]
        for kind, model in PAYLOADS.items())
    union = Annotated[Union[variants], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007
    schema: dict[str, Any] = TypeAdapter(union).json_schema()
    return {"title": "Event", "description": Event.__doc__, **schema}


def render(name: str) -> str:
    return json.dumps(schema_for(name), indent=2, sort_keys=True) + "\n"


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in (*SCHEMAS, *STATE_SCHEMAS):
        path = directory / f"{name}.schema.json"
        path.write_text(render(name))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else Path(__file__).resolve().parents[2] / "schemas"
    for path in write_all(target):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
