"""Every secret format in every context a transcript, title or error puts it is masked."""

from __future__ import annotations

import base64

import pytest

from deksdenflow.domain.agents.redaction import (
    MASK,
    holds_secret,
    redact,
    secret_values,
    strip_controls,
)

from .corpus import FORMATS, contexts, encodings, needle, normalized

CASES = [(name, ctx) for name in FORMATS for ctx in contexts("x")]
SHAPES = [(name, enc) for name in FORMATS for enc in encodings("x") if enc != "as written"]


# Secrets by assignment, masked in what is kept but not a reason to refuse a commit.
UNGUARDED = {"password assignment"}


def test_the_corpus_has_at_least_25_formats() -> None:
    assert len(FORMATS) >= 25


@pytest.mark.parametrize(("name", "context"), CASES)
def test_every_format_is_masked_in_every_context(name: str, context: str) -> None:
    text = contexts(FORMATS[name])[context]
    out = redact(text)
    assert needle(name) not in out and MASK in out, out


@pytest.mark.parametrize(("name", "encoding"), SHAPES)
def test_every_format_is_masked_in_every_shape_and_context(name: str, encoding: str) -> None:
    spelled = encodings(FORMATS[name])[encoding]
    for context, text in contexts(spelled).items():
        out = redact(text)
        assert needle(name) not in normalized(out) and MASK in out, (context, out)
        assert holds_secret(text) or name in UNGUARDED, (context, text)


def test_an_env_secret_without_its_prefix_reversed_or_split_is_masked() -> None:
    value = "gh" + "p_" + "Zq8Lr2Vx7Nw4Kt6Yp3Hs9Jd5Fb1Mc0Ga2We4"
    secrets = secret_values((), {"GITHUB_TOKEN": value})
    body = value[4:]
    for text in (f"token={body}", f"x {value[::-1]} y", f"a {value[:15]}\n{value[15:]} b",
                 f"k: {body[:10]}\n{body[10:]}"):
        out = redact(text, secrets)
        assert body not in normalized(out) and body[::-1] not in out, (text, out)
        assert holds_secret(text, secrets), text


def test_a_secret_env_value_is_masked_encoded_too(monkeypatch: pytest.MonkeyPatch) -> None:
    value = "plain-looking-value-42!"
    env = {"MY_SERVICE_TOKEN": value, "HOME": "/root", "SHORT_KEY": "abc"}
    secrets = secret_values((), env)
    assert secrets == [value]
    b64 = base64.b64encode(b"user:" + value.encode()).decode()
    for text in (value, f'"{value}"', value.replace("!", "%21"), b64, f"x{b64}y"):
        assert value not in redact(text, secrets)
    assert redact(b64, secrets) != b64


def test_ordinary_text_survives() -> None:
    text = ("skip the task-list; ask-me later; max_tokens: 1000000; "
            "input_tokens=12345678; see https://github.com/org/repo")
    assert redact(text) == text


def test_terminal_control_sequences_are_stripped() -> None:
    text = "title\x1b[2J\x1b]0;pwned\x07 \x9b31m done\r\n\tok"
    assert strip_controls(text) == "title 31m done\n\tok"


def test_the_terminal_masks_the_projects_configured_secret_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from deksdenflow.cli.render import safe_text

    value = "value-of-a-variable-only-the-project-names"
    monkeypatch.setenv("DEPLOY_HOOK", value)  # no secret-looking suffix: only `[secrets] env`
    assert value in safe_text(f"error: {value}")
    assert value not in safe_text(f"error: {value}", ["DEPLOY_HOOK"])
