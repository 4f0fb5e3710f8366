"""What agents must return: the one source of truth for `schemas/*.schema.json`.

Every field is required and no object allows extra keys, so the generated schemas are
accepted by OpenAI-style strict structured output (and by `codex exec --output-schema`).
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .nesting import MAX_DEPTH, too_deep

STEP_FILE = re.compile(r"(\d{2})-[a-z0-9][a-z0-9-]{0,60}\.md")  # always with fullmatch
CONTRACT_FILES = ("plan.md", "context.md", "log.md")


def strict_json(text: str) -> Any:
    """Agent JSON, refusing what a lenient parser would quietly resolve: a key given twice
    (`"verdict": "FAIL", ..., "verdict": "PASS"` must not read as PASS), or nested deeper
    than anything an agent is asked for (the parser would recurse into it and crash)."""
    if too_deep(text):
        raise ValueError(f"the JSON nests deeper than {MAX_DEPTH} levels")
    return json.loads(text, object_pairs_hook=_no_duplicates)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"the key {key!r} appears twice")
        seen[key] = value
    return seen


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanFile(_Strict):
    """One file the planner proposes, relative to the protocol folder."""

    path: str = Field(description="file name inside the protocol folder, e.g. 01-add-parser.md")
    content: str = Field(description="the full Markdown text of the file")


def _every_key_required(schema: dict[str, Any]) -> None:
    """Strict structured output wants every key listed as required (and no defaults): an
    agent always sends `depends_on`, while a plan written by hand or an older agent may
    leave it out (it then means "after the step before")."""
    schema["required"] = list(schema.get("properties", {}))
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)


class PlanStep(_Strict):
    """One numbered step; its instructions are the step file of the same number."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_every_key_required)

    index: int = Field(description="step number 0-99; 0 is setup, work starts at 1")
    type: Literal["setup", "work", "qa", "finalize"]
    title: str = Field(description="short imperative title")
    file: str = Field(description="the step file's name, NN-short-name.md")
    depends_on: list[int] | None = Field(
        default=None,
        description="indexes of the steps this one needs finished first; [] for none, null "
        "for the step before it")


class PlanOutput(_Strict):
    """The planner's answer: the contract files and the numbered steps."""

    summary: str = Field(description="one or two sentences on the approach")
    files: list[PlanFile] = Field(description="plan.md, context.md, log.md and every step file")
    steps: list[PlanStep] = Field(description="the steps in order, one per step file")


class QaVerdict(_Strict):
    """The reviewer's structured verdict on one step."""

    verdict: Literal["PASS", "FAIL"]
    summary: str = Field(description="one paragraph: what was checked and the outcome")
    findings: list[str] = Field(description="concrete problems to fix; empty on PASS")
