"""Telling an engine's refusal of the request from a failure worth retrying.

A server or CLI that refuses dflow's output schema (HTTP 400 `invalid_json_schema`, a model
without structured output, a Codex too old for `--output-schema`) refuses it on every retry:
such failures are permanent (`EngineRefused`) and say what to change
(docs/decisions/0830-schema-refused-is-permanent.md).
"""

from __future__ import annotations

import re

# HTTP statuses that say the request itself is wrong: sending it again gets the same answer.
# (408, 409, 425, 429 and 5xx are worth a retry.)
REFUSED_STATUSES = frozenset({400, 401, 403, 404, 405, 413, 415, 422})

_SCHEMA_WORDS = ("invalid_json_schema", "invalid schema", "response_format", "json_schema",
                 "output_schema", "structured output", "guided_json", "schema")

SWITCH = ("or use another engine for this phase (`dflow config set phases.PHASE ENGINE`, or "
          "`dflow plan RUN --engine E` / `dflow step retry RUN STEP --engine E --model M`)")


def mentions_schema(said: str) -> bool:
    """Does an engine's complaint name the output schema?"""
    text = said.lower()
    return any(word in text for word in _SCHEMA_WORDS)


def unknown_flag(said: str, flag: str) -> bool:
    """A CLI that does not know `flag` at all (clap: unexpected argument; commander: unknown
    option)."""
    pattern = (r"(unexpected argument|unknown option|unrecognized (option|arguments?))"
               r"[\s:]*['\"`]?" + re.escape(flag))
    return re.search(pattern, said, re.IGNORECASE) is not None


def schema_refusal(engine: str, said: str, fix: str) -> str:
    """The sentence for a refused output schema: what the engine said and what to change."""
    return (f"engine '{engine}' refused the output schema dflow asked for ({said}); {fix}, "
            f"{SWITCH}")
