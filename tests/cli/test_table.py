"""`cli/table.py` writes what Rich prints, byte for byte, or lets Rich print it."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table

from deksdenflow.cli import table
from deksdenflow.cli.render import STATUS_STYLE

_WORD = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="[]"), max_size=14)
_STYLED = st.builds(lambda status, rest: f"[{STATUS_STYLE[status]}]{status}[/]{rest}",
                    st.sampled_from(sorted(k for k, v in STATUS_STYLE.items() if v)),
                    st.sampled_from(["", " (paused)"]))
_CELL = st.one_of(_WORD, _STYLED, st.just("a [b] c"), st.just("日本"))


def _console(terminal: bool, width: int, system: str | None, no_color: bool) -> Console:
    return Console(file=io.StringIO(), force_terminal=terminal, width=width, no_color=no_color,
                   color_system=system, highlight=False, emoji=False, soft_wrap=False)  # type: ignore[arg-type]


def _rich(console: Console, headers: list[str], rows: list[list[str]]) -> str:
    t = Table(*headers, box=None)
    for row in rows:
        t.add_row(*row)
    console.print(t)
    return console.file.getvalue()  # type: ignore[attr-defined]


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.lists(_CELL, min_size=3, max_size=3), max_size=6),
       width=st.integers(20, 120), terminal=st.booleans(),
       system=st.sampled_from(["standard", "256", "truecolor"]), no_color=st.booleans())
def test_the_table_is_what_rich_prints(rows: list[list[str]], width: int, terminal: bool,
                                       system: str, no_color: bool) -> None:
    headers = ["id", "status", "updated"]
    expected = _rich(_console(terminal, width, system, no_color), headers, rows)
    ours = _console(terminal, width, system, no_color)
    table.print_table(ours, headers, rows)
    assert ours.file.getvalue() == expected  # type: ignore[attr-defined]


@settings(max_examples=40, deadline=None)
@given(texts=st.lists(st.one_of(_WORD, st.text(max_size=90), st.just("0001-a waits: x — `y`")),
                      max_size=4),
       width=st.integers(10, 80), terminal=st.booleans())
def test_lines_are_what_rich_prints(texts: list[str], width: int, terminal: bool) -> None:
    rich_console = _console(terminal, width, "truecolor", False)
    for text in texts:
        rich_console.print(text, markup=False)
    ours = _console(terminal, width, "truecolor", False)
    table.print_lines(ours, texts)
    assert ours.file.getvalue() == rich_console.file.getvalue()  # type: ignore[attr-defined]


@settings(max_examples=40, deadline=None)
@given(texts=st.lists(st.one_of(_WORD, st.text(max_size=90), st.just("  12:00:00 note — x")),
                      max_size=4),
       width=st.integers(10, 80), terminal=st.booleans())
def test_soft_wrapped_lines_are_what_rich_prints(texts: list[str], width: int,
                                                 terminal: bool) -> None:
    rich_console = _console(terminal, width, "truecolor", False)
    for text in texts:
        rich_console.print(text, markup=False, soft_wrap=True)
    ours = _console(terminal, width, "truecolor", False)
    table.print_lines(ours, texts, soft_wrap=True)
    assert ours.file.getvalue() == rich_console.file.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize("terminal", [False, True])
def test_a_status_table_takes_the_direct_path(terminal: bool,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def no_rich_table(*_: object, **__: object) -> None:
        raise AssertionError("went through rich.table")

    monkeypatch.setattr("rich.table.Table", no_rich_table)
    ours = _console(terminal, 80, "truecolor", False)
    table.print_table(ours, ["id", "status"], [["0001-a", "[blue]running[/] (paused)"]])
    assert "running" in ours.file.getvalue()  # type: ignore[attr-defined]


# --- the plain console: Rich's decisions without Rich (decision 1305) ------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _printed(terminal: bool, env: dict[str, str], plain: bool, rows: list[list[str]],
             texts: list[str]) -> str | None:
    """What the status table and its notes print with `text.console()` (Rich) or with
    `table.plain_console()`, under `env`, to a terminal or not; None: no plain console."""
    import os
    import sys
    from unittest import mock

    from deksdenflow.cli.text import console

    out = _Terminal() if terminal else io.StringIO()
    with mock.patch.dict(os.environ, env, clear=True), mock.patch.object(sys, "stdout", out):
        chosen = table.plain_console() if plain else console()
        if chosen is None:
            return None
        table.print_table(chosen, ["id", "status", "updated"], rows)
        table.print_lines(chosen, texts)
    return out.getvalue()


_ENV = st.fixed_dictionaries({}, optional={
    "COLUMNS": st.sampled_from(["0", "30", "72", "120"]),
    "TERM": st.sampled_from(["xterm", "xterm-256color", "screen-16color", "kitty", "linux"]),
    "COLORTERM": st.sampled_from(["truecolor", "24bit", ""]),
    "NO_COLOR": st.sampled_from(["", "1"]),
    "CI": st.sampled_from(["true", "false"]),
})


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.lists(_CELL, min_size=3, max_size=3), max_size=5),
       texts=st.lists(st.one_of(_WORD, st.just("0001-a waits: x — `y`"), st.text(max_size=90)),
                      max_size=3),
       terminal=st.booleans(), env=_ENV)
def test_the_plain_console_prints_what_rich_prints(rows: list[list[str]], texts: list[str],
                                                   terminal: bool, env: dict[str, str]) -> None:
    plain = _printed(terminal, env, True, rows, texts)
    assert plain is not None
    assert plain == _printed(terminal, env, False, rows, texts)


@pytest.mark.parametrize("env", [{"FORCE_COLOR": "1"}, {"TTY_COMPATIBLE": "1"},
                                 {"TERM": "dumb"}, {"JUPYTER_COLUMNS": "100"}])
def test_what_only_rich_decides_is_left_to_rich(env: dict[str, str]) -> None:
    assert _printed(True, env, True, [], []) is None


def test_a_style_the_plain_console_does_not_know_goes_to_rich() -> None:
    rows = [["0001-a", "[underline]odd[/]", "1s ago"]]
    assert _printed(True, {"TERM": "xterm"}, True, rows, []) == _printed(
        True, {"TERM": "xterm"}, False, rows, [])
