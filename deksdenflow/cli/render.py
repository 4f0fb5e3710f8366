"""Shared rendering: JSON from the same models the tables come from, Rich on a terminal."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console

from ..domain.redaction import redact, secret_values, strip_controls
from ..wording import STATUS_STYLE, ago, tokens

__all__ = ["STATUS_STYLE", "ago", "tokens"]  # shared with the console (wording.py)

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")
LOG_FORMAT_OPTION = typer.Option(
    None, "--log-format", metavar="text|json",
    help="Log lines as text or one JSON object per line with correlation ids "
    "(default: DFLOW_LOG_FORMAT, else text).")


def is_plain() -> bool:
    """CI logs and pipes get plain, line-oriented output."""
    return os.environ.get("CI") == "true" or bool(os.environ.get("NO_COLOR"))


def console() -> Console:
    plain = is_plain()
    return Console(
        no_color=plain,
        highlight=False,
        emoji=False,
        soft_wrap=False,
        width=int(os.environ.get("COLUMNS", "0")) or None,
    )


def emit_json(data: BaseModel | list[Any] | dict[str, Any]) -> None:
    if isinstance(data, BaseModel):
        payload: Any = data.model_dump(mode="json")
    elif isinstance(data, list):
        payload = [d.model_dump(mode="json") if isinstance(d, BaseModel) else d for d in data]
    else:
        payload = data
    typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))


def styled(status: str) -> str:
    style = STATUS_STYLE.get(status, "")
    return f"[{style}]{status}[/]" if style and not is_plain() else status


def safe_text(text: str, secret_names: Iterable[str] = ()) -> str:
    """Text that may quote agent or engine output (an error, a job's failure): no secret and
    no escape sequence reaches the terminal (docs/decisions/0700). Pass the project's
    `secret_env_names()` where a project is at hand, so `[secrets] env` is masked too."""
    return strip_controls(redact(text, secret_values(secret_names)))
