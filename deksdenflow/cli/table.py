"""Rich's borderless table and plain lines, written directly when the text is simple.

`rich.table.Table(box=None)` measures and renders every cell through its layout engine:
~0.5 s for `dflow status` over 1,000 runs. For cells of plain printable text (optionally one
`[style]text[/]` span, as `render.styled` makes) that fit the console's width, its output is
fixed: each cell padded by one space each side to its column's width, the header bold. This
module writes exactly that, with the console's own styles and colour system, and hands
anything else (wide or control characters, other markup, a table wider than the console)
to Rich. `tests/cli/test_table.py` holds it to Rich's output byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rich.cells import cell_len
from rich.console import COLOR_SYSTEMS, Console
from rich.style import Style

_CELL = re.compile(r"(?:\[([a-z ]+)\]([^\[\]]*)\[/\])?([^\[\]]*)")


def print_table(console: Console, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print `Table(*headers, box=None)` with these rows (cells are Rich markup)."""
    text = _fast_table(console, headers, rows)
    if text is not None:
        _write(console, text)
        return
    from rich.table import Table

    table = Table(*headers, box=None)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def print_lines(console: Console, texts: Sequence[str]) -> None:
    """`console.print(text, markup=False)` for each text, written directly when it fits on one
    line."""
    width = console.width  # computed from the environment on every access
    direct: list[str] = []
    for text in texts:
        if _simple(text) and len(text) <= width:
            direct.append(text + "\n")
            continue
        _write(console, "".join(direct))
        direct = []
        console.print(text, markup=False)
    _write(console, "".join(direct))


def _simple(text: str) -> bool:
    """Printable, one terminal cell per character (the em dash of `waits:` lines included)."""
    if not text.isprintable():
        return False
    return text.translate(_NARROW).isascii() or cell_len(text) == len(text)


_NARROW = str.maketrans("", "", "—")


def _write(console: Console, text: str) -> None:
    if text:
        console.file.write(text)
        console.file.flush()


def _parse(cell: str) -> tuple[str, str, str] | None:
    """(style, styled text, plain rest) for `[style]text[/]rest` or plain text; else None."""
    found = _CELL.fullmatch(cell)
    if found is None:
        return None
    style, styled, rest = found.group(1) or "", found.group(2) or "", found.group(3)
    if not _simple(styled + rest):
        return None
    return style, styled, rest


def _fast_table(console: Console, headers: Sequence[str],
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
    header = console.get_style("table.header")
    lines = ["".join(_paint(console, header, " ") + _paint(console, header, h.ljust(w))
                     + _paint(console, header, " ") for h, w in zip(headers, widths, strict=True))]
    for parsed_row in cells:
        parts = []
        for (style, styled, rest), w in zip(parsed_row, widths, strict=True):
            pad = " " * (w - len(styled) - len(rest))
            painted = _paint(console, console.get_style(style), styled) if style else styled
            parts.append(f" {painted}{rest}{pad} ")
        lines.append("".join(parts))
    return "\n".join(lines) + "\n"


def _paint(console: Console, style: Style, text: str) -> str:
    system = console.color_system  # None when not a terminal
    if not text or system is None:
        return text
    if console.no_color:
        style = style.without_color
    return style.render(text, color_system=COLOR_SYSTEMS[system])
