"""Every secret format in every context a transcript, title or error puts it is masked."""

from __future__ import annotations

import base64

import pytest

from deksdenflow.domain.redaction import MASK, redact, secret_values, strip_controls

from .corpus import FORMATS, contexts, needle

CASES = [(name, ctx) for name in FORMATS for ctx in contexts("x")]


def test_the_corpus_has_at_least_25_formats() -> None:
    assert len(FORMATS) >= 25


@pytest.mark.parametrize(("name", "context"), CASES)
def test_every_format_is_masked_in_every_context(name: str, context: str) -> None:
    text = contexts(FORMATS[name])[context]
    out = redact(text)
    assert needle(name) not in out and MASK in out, out


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
