"""Rich's borderless table and plain lines, written directly when the text is simple.

`rich.table.Table(box=None)` measures and renders every cell through its layout engine:
~0.5 s for `dflow status` over 1,000 runs. For cells of plain printable text (optionally one
`[style]text[/]` span, as `render.styled` makes) that fit the console's width, its output is
fixed: each cell padded by one space each side to its column's width, the header bold. This
module writes exactly that, with the console's own styles and colour system, and hands
anything else (wide or control characters, other markup, a table wider than the console)
to Rich. `tests/cli/test_table.py` holds it to Rich's output byte for byte.

`plain_console()` stands in for `text.console()` without importing Rich (~25 ms) when it can
tell what Rich would decide — the width, whether to colour, no colour names but the standard
ones — and returns None when it cannot (Windows, FORCE_COLOR, TTY_COMPATIBLE, Jupyter, a dumb
terminal): the caller then uses Rich (docs/decisions/1305-status-prints-without-rich.md).
"""

from __future__ import annotations

import os
import re
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import TextIO

    from rich.console import Console
    from rich.style import Style

_CELL = re.compile(r"(?:\[([a-z ]+)\]([^\[\]]*)\[/\])?([^\[\]]*)")
# The SGR parameter of each style word Rich gives these names (attributes before colours);
# the standard colours are the same codes in every colour system Rich picks off Windows.
_ATTRIBUTES = {"bold": "1", "dim": "2"}
_COLOURS = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35",
            "cyan": "36"}
_THEME = {"table.header": "bold"}  # the one theme style this module asks for
# Environment that changes Rich's decisions in ways not mirrored here.
_RICH_ONLY_ENV = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "JUPYTER_COLUMNS",
                  "JUPYTER_LINES")


class PlainConsole:
    """What `text.console()` would be, for this module's output, without Rich."""

    def __init__(self, file: TextIO, width: int, colour: bool, no_color: bool) -> None:
        self.file = file
        self.width = width
        self.colour = colour
        self.no_color = no_color
        self._rich: Console | None = None

    def paint(self, style: str, text: str) -> str | None:
        """`text` as Rich renders it in `style` (a theme name or style words); None: a style
        this console does not know."""
        words = _THEME.get(style, style).split()
        if any(w not in _ATTRIBUTES and w not in _COLOURS for w in words):
            return None
        if not self.colour or not text:
            return text
        codes = [_ATTRIBUTES[w] for w in _ATTRIBUTES if w in words]
        if not self.no_color:
            codes += [_COLOURS[w] for w in words if w in _COLOURS][-1:]
        return f"\x1b[{';'.join(codes)}m{text}\x1b[0m" if codes else text

    def rich(self) -> Console:
        """The Rich console this one stands in for (for what only Rich prints)."""
        if self._rich is None:
            from .text import console  # why: start-up

            self._rich = console()
        return self._rich


def plain_console(environ: Mapping[str, str] | None = None,
                  file: TextIO | None = None) -> PlainConsole | None:
    """A `PlainConsole` deciding as `text.console()` would; None when unsure."""
    env = os.environ if environ is None else environ
    out = sys.stdout if file is None else file
    if sys.platform == "win32" or any(name in env for name in _RICH_ONLY_ENV):
        return None
    try:
        terminal = out.isatty()
    except ValueError:
        return None
    if terminal and env.get("TERM", "").strip().lower() in ("dumb", "unknown"):
        return None
    width = int(env.get("COLUMNS", "0")) or None  # what text.console() passes Rich
    columns = env.get("COLUMNS")
    if width is None and columns is not None and columns.isdigit():
        width = int(columns)  # Rich's Console takes COLUMNS itself (so "0" is a width of 0)
    no_color = env.get("CI") == "true" or bool(env.get("NO_COLOR"))
    return PlainConsole(out, _terminal_width(env) if width is None else width, terminal,
                        no_color)


def _terminal_width(env: Mapping[str, str]) -> int:
    """Rich's width when none is given: stdin's, stdout's or stderr's terminal, else 80."""
    width = None
    for fd in (0, 1, 2):
        try:
            width = os.get_terminal_size(fd).columns
        except (AttributeError, ValueError, OSError):
            continue
        break
    columns = env.get("COLUMNS")
    if columns is not None and columns.isdigit():
        width = int(columns)
    return width or 80


def print_table(console: Console | PlainConsole, headers: Sequence[str],
                rows: Sequence[Sequence[str]]) -> None:
    """Print `Table(*headers, box=None)` with these rows (cells are Rich markup)."""
    text = _fast_table(console, headers, rows)
    if text is not None:
        _write(console, text)
        return
    from rich.table import Table  # why: start-up

    table = Table(*headers, box=None)
    for row in rows:
        table.add_row(*row)
    _rich(console).print(table)


def print_lines(console: Console | PlainConsole, texts: Sequence[str],
                soft_wrap: bool = False) -> None:
    """`console.print(text, markup=False, soft_wrap=soft_wrap)` for each text, written
    directly when it fits on one line (any simple text does, when soft-wrapped)."""
    width = console.width  # computed from the environment on every access
    direct: list[str] = []
    for text in texts:
        if _simple(text) and (soft_wrap or len(text) <= width):
            direct.append(text + "\n")
            continue
        _write(console, "".join(direct))
        direct = []
        _rich(console).print(text, markup=False, soft_wrap=soft_wrap)
    _write(console, "".join(direct))


def _rich(console: Console | PlainConsole) -> Console:
    return console.rich() if isinstance(console, PlainConsole) else console


def _simple(text: str) -> bool:
    """Printable, one terminal cell per character (the em dash of `waits:` lines included)."""
    if text.isascii():
        return text.isprintable()
    if not text.isprintable():
        return False
    if text.translate(_NARROW).isascii():
        return True
    from rich.cells import cell_len  # why: start-up

    return cell_len(text) == len(text)


_NARROW = str.maketrans("", "", "—")


def _write(console: Console | PlainConsole, text: str) -> None:
    if text:
        console.file.write(text)
        console.file.flush()


def _parse(cell: str) -> tuple[str, str, str] | None:
    """(style, styled text, plain rest) for `[style]text[/]rest` or plain text; else None."""
    if "[" not in cell and "]" not in cell:
        return ("", "", cell) if _simple(cell) else None
    found = _CELL.fullmatch(cell)
    if found is None:
        return None
    style, styled, rest = found.group(1) or "", found.group(2) or "", found.group(3)
    if not _simple(styled + rest):
        return None
    return style, styled, rest


def _fast_table(console: Console | PlainConsole, headers: Sequence[str],
                rows: Sequence[Sequence[str]]) -> str | None:
    cells: list[list[tuple[str, str, str]]] = []
    for row in rows:
        parsed = [_parse(cell) for cell in row]
        if len(parsed) != len(headers) or any(p is None for p in parsed):
            return None
        cells.append([p for p in parsed if p is not None])
    if not all(_simple(h) for h in headers):
        return None
    widths = [max([len(h), *(len(r[i][1]) + len(r[i][2]) for r in cells)])
              for i, h in enumerate(headers)]
    if sum(w + 2 for w in widths) > console.width:
        return None  # Rich would shrink and wrap the columns
    paint = _painter(console)
    header = [(paint("table.header", " "), paint("table.header", h.ljust(w)))
              for h, w in zip(headers, widths, strict=True)]
    painted_styles: dict[tuple[str, str], str | None] = {}
    lines = ["".join(f"{pad}{text}{pad}" for pad, text in header)]
    for parsed_row in cells:
        parts = []
        for (style, styled, rest), w in zip(parsed_row, widths, strict=True):
            pad = " " * (w - len(styled) - len(rest))
            painted: str | None = styled
            if style:
                painted = painted_styles.get((style, styled))
                if painted is None:
                    painted = painted_styles[(style, styled)] = paint(style, styled)
            parts.append(f" {painted}{rest}{pad} ")
        lines.append("".join(parts))
    if any(text is None for pad, text in header) or None in painted_styles.values():
        return None  # a style only Rich knows
    return "\n".join(lines) + "\n"


def _painter(console: Console | PlainConsole) -> Callable[[str, str], str | None]:
    if isinstance(console, PlainConsole):
        return console.paint
    rich_console = console

    def paint(style: str, text: str) -> str:
        return _paint(rich_console, rich_console.get_style(style), text)

    return paint


def _paint(console: Console, style: Style, text: str) -> str:
    from rich.console import COLOR_SYSTEMS  # why: start-up

    system = console.color_system  # None when not a terminal
    if not text or system is None:
        return text
    if console.no_color:
        style = style.without_color
    return style.render(text, color_system=COLOR_SYSTEMS[system])
