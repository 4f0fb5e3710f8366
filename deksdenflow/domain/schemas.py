"""JSON schemas for agent output, generated from the pydantic models.

`python -m deksdenflow.domain.schemas [DIR]` rewrites `schemas/*.schema.json`; a test fails
when the committed files differ from what the models generate.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .agent_output import PlanOutput, QaVerdict

SCHEMAS: dict[str, type[BaseModel]] = {"plan": PlanOutput, "qa": QaVerdict}


def schema_for(name: str) -> dict[str, Any]:
    """The JSON schema of one agent output kind ('plan' or 'qa')."""
    return SCHEMAS[name].model_json_schema()


def render(name: str) -> str:
    return json.dumps(schema_for(name), indent=2, sort_keys=True) + "\n"


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SCHEMAS:
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
