"""An engine's final output is untrusted: parse it and check it against the request's schema."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema  # type: ignore[import-untyped]

from ..domain.agents.nesting import MAX_DEPTH, too_deep
from ..errors import EngineOutputInvalid

# A reply wrapped in a Markdown code fence (```json ... ```), as chat models like to answer.
_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n(?P<body>.*?)\n\s*```\s*$", re.DOTALL)


def unfence(text: str) -> str:
    """The text inside a surrounding Markdown code fence, or the text itself."""
    match = _FENCE.match(text)
    return match.group("body") if match else text.strip()


def validate_output(
    text: str, schema: dict[str, Any] | None, engine: str, *, transcript: str = ""
) -> str:
    """Return the output to keep: unchanged without a schema, else JSON text that satisfies it."""
    if schema is None:
        return text
    body = unfence(text)
    if not body:
        raise EngineOutputInvalid(
            f"engine '{engine}' gave no final output, but a JSON answer was required; "
            "see the transcript",
            transcript=transcript,
        )
    if too_deep(body):  # json.loads would recurse into it and crash
        raise EngineOutputInvalid(
            f"engine '{engine}' answered JSON that nests deeper than {MAX_DEPTH} levels; "
            "see the transcript", transcript=transcript)
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        raise EngineOutputInvalid(
            f"engine '{engine}' answered with text that is not JSON ({exc.msg} at line "
            f"{exc.lineno} column {exc.colno}); see the transcript",
            transcript=transcript,
        ) from None
    check_schema(value, schema, engine, transcript=transcript)
    return body


def check_schema(value: Any, schema: dict[str, Any], engine: str, *, transcript: str = "") -> None:
    """EngineOutputInvalid naming the first offending field when `value` fails `schema`."""
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is None:
        return
    where = "/".join(str(p) for p in error.absolute_path) or "the top level"
    raise EngineOutputInvalid(
        f"engine '{engine}' answered JSON that fails the output schema at {where}: "
        f"{_short(error.message)}",
        transcript=transcript,
    )


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
