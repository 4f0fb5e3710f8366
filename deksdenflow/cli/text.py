"""Terminal text helpers without Typer or pydantic: what the fast read paths print with."""

from __future__ import annotations

import os

from ..wording import STATUS_STYLE, ago, tokens

__all__ = ["STATUS_STYLE", "ago", "console", "is_plain", "styled", "tokens"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from rich.console import Console


def is_plain() -> bool:
    """CI logs and pipes get plain, line-oriented output."""
    return os.environ.get("CI") == "true" or bool(os.environ.get("NO_COLOR"))


def console() -> Console:
    from rich.console import Console

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
