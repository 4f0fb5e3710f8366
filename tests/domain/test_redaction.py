from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deksdenflow.domain.agents import redaction
from deksdenflow.domain.agents.redaction import MASK, redact, secret_values

SAMPLES = [
    "ghp_" + "a1B2" * 9,
    "github_pat_" + "11ABCDEFG0" * 5,
    "glpat-" + "xY9_" * 6,
    "sk-ant-api03-" + "Zz09" * 10,
    "sk-proj-" + "Ab12" * 12,
    "AKIA" + "ABCDEFGHIJKLMNOP",
]


@pytest.mark.parametrize("token", SAMPLES)
def test_known_token_shapes_are_masked(token: str) -> None:
    out = redact(f"before {token} after")
    assert token not in out and MASK in out and out.startswith("before ")


def test_authorization_header_keeps_scheme_and_masks_value() -> None:
    out = redact("Authorization: Bearer abc.def-ghi_jkl0123456789")
    assert out == f"Authorization: Bearer {MASK}"


def test_configured_secret_values_are_masked_but_short_ones_ignored() -> None:
    env = {"MY_SECRET": "hunter2-but-longer", "TINY": "abc", "OPENAI_API_KEY": "plain-value-x"}
    values = secret_values(["MY_SECRET", "TINY"], env)
    assert values == ["hunter2-but-longer", "plain-value-x"]
    assert redact("pw=hunter2-but-longer key=plain-value-x abc", values) == (
        f"pw={MASK} key={MASK} abc")


def test_ordinary_text_is_untouched() -> None:
    text = "skip the task-list; ask-me later; ghost_town"
    assert redact(text) == text


def test_a_pattern_is_compiled_only_when_its_trigger_is_met() -> None:
    # Fresh patterns (the module's own may have been used by other tests): the laziness is
    # what keeps ~35 compiles off every command's start-up.
    from deksdenflow.domain.agents.redaction import LazyPattern, _spans, _triggered

    rows = ((LazyPattern(r"\bghp_[A-Za-z0-9]{30,}"), 0, ("ghp_",)),
            (LazyPattern(r"(?i)(bearer\s+)[A-Za-z0-9]{16,}"), 1, ("bearer",)))
    text = "plain words, no token"
    assert _spans(text, _triggered(text, rows)) == []
    assert not any(row[0].is_compiled for row in rows)
    text = "Authorization: BEARER abcdefghijklmnopqrstuvwxyz"
    assert _spans(text, _triggered(text, rows)) == [(22, len(text))]
    assert [row[0].is_compiled for row in rows] == [False, True]
    assert [type(row[0].flags) for row in rows] == [int, int]  # no RegexFlag per trigger test


_ROWS = (*redaction.TOKEN_PATTERNS, *redaction.ASSIGNMENT_PATTERNS)
_PIECES = sorted({t for row in _ROWS for t in row[2]} | {t.upper() for row in _ROWS for t in row[2]}
                 | {"a", " ", "_", "-", ".", "é", "\\n", "Bear", "er"})


def _reference(text: str) -> list[object]:
    """Each row tested on its own, as before the screen."""
    lower = text.lower()
    return [row for row in _ROWS
            if any(t in (lower if row[0].flags & re.IGNORECASE else text) for t in row[2])]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=12).map("".join))
def test_the_short_text_screen_finds_every_trigger_the_rows_find(text: str) -> None:
    assert redaction._triggered(text, _ROWS) == _reference(text)
