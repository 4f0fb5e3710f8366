"""Shared rendering: JSON from the same models the tables come from, Rich on a terminal."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import typer
from pydantic import BaseModel

from ..domain.agents.redaction import redact, secret_values, strip_controls
from .text import STATUS_STYLE, ago, console, is_plain, styled, tokens

__all__ = ["JSON_OPTION", "LOG_FORMAT_OPTION", "STATUS_STYLE", "ago", "console", "emit_json",
           "is_plain", "safe_text", "styled", "tokens"]

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")
LOG_FORMAT_OPTION = typer.Option(
    None, "--log-format", metavar="text|json",
    help="Log lines as text or one JSON object per line with correlation ids "
    "(default: DFLOW_LOG_FORMAT, else text).")


def emit_json(data: BaseModel | list[Any] | dict[str, Any]) -> None:
    if isinstance(data, BaseModel):
        payload: Any = data.model_dump(mode="json")
    elif isinstance(data, list):
        payload = [d.model_dump(mode="json") if isinstance(d, BaseModel) else d for d in data]
    else:
        payload = data
    typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))


def warn(warnings: list[str]) -> None:
    """A service's warnings, on stderr (they never go into --json's stdout)."""
    for text in warnings:
        typer.echo(f"warning: {safe_text(text)}", err=True)


def safe_text(text: str, secret_names: Iterable[str] = ()) -> str:
    """Text that may quote agent or engine output (an error, a job's failure): no secret and
    no escape sequence reaches the terminal (docs/decisions/0700). Pass the project's
    `secret_env_names()` where a project is at hand, so `[secrets] env` is masked too."""
    return strip_controls(redact(text, secret_values(secret_names)))
