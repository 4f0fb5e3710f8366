"""Terminal text helpers without Typer or pydantic: what the fast read paths print with."""

from __future__ import annotations

import os

from ..wording import STATUS_STYLE, ago, tokens

__all__ = ["STATUS_STYLE", "ago", "console", "event_detail", "is_plain", "shown", "styled",
           "tokens"]

DETAIL_KEYS = ("kind", "verdict", "status", "reason", "text", "summary", "url", "name",
               "issue_url")

TYPE_CHECKING = False
if TYPE_CHECKING:
    from rich.console import Console


def is_plain() -> bool:
    """CI logs and pipes get plain, line-oriented output."""
    return os.environ.get("CI") == "true" or bool(os.environ.get("NO_COLOR"))


def console() -> Console:
    from rich.console import Console  # why: start-up

    plain = is_plain()
    return Console(
        no_color=plain,
        highlight=False,
        emoji=False,
        soft_wrap=False,
        width=int(os.environ.get("COLUMNS", "0")) or None,
    )


def styled(status: str) -> str:
    style = STATUS_STYLE.get(status, "")
    return f"[{style}]{status}[/]" if style and not is_plain() else status


def event_detail(data: dict[str, object]) -> str:
    """The facts of an event worth a glance (a note's `text` included), on one line, without
    a control or invisible format character: dflow strips what it writes, but a teammate who
    can push may write an event file by hand, and its text must not drive the terminal."""
    parts = [f"{k}={data[k]}" for k in DETAIL_KEYS if data.get(k) not in (None, "")]
    text = shown(" ".join(parts))
    return text if len(text) <= 100 else text[:97] + "..."


def shown(text: str) -> str:
    """`text` as a terminal may print it: escape sequences, control and invisible format
    characters removed (domain/agents/redaction.py's one rule), newlines and tabs kept."""
    if text.isprintable() or text.replace("\n", "").replace("\t", "").isprintable():
        return text  # the common case (a plan's lines too) costs no import
    from ..domain.agents.redaction import strip_controls  # why: start-up

    return strip_controls(text)
