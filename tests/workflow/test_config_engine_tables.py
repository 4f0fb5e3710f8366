"""`dflow config set engines.NAME.KEY` on an engine that has no table in project.toml yet."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def test_setting_a_builtin_engines_model_starts_its_table_with_its_kind(
    cli: Any, repo: Path
) -> None:
    cli("init", "--engine", "codex", cwd=repo)

    result = cli("config", "set", "engines.codex.model", "gpt-5-codex", cwd=repo)

    assert result.exit_code == 0, result.output
    assert cli("config", "get", "engines.codex.model", cwd=repo).output.strip() == "gpt-5-codex"
    assert cli("config", "get", "engines.codex.kind", cwd=repo).output.strip() == "codex"


def test_an_engine_option_can_be_set_before_anything_else_of_that_engine(
    cli: Any, repo: Path
) -> None:
    cli("init", "--engine", "openai", cwd=repo)

    result = cli("config", "set", "engines.openai.options.base_url", "http://127.0.0.1:1/v1",
                 cwd=repo)  # fmt: skip

    assert result.exit_code == 0, result.output
    shown = cli("config", "get", "engines.openai.options", cwd=repo).output
    assert "http://127.0.0.1:1/v1" in shown


def test_an_explicit_kind_is_kept(cli: Any, repo: Path) -> None:
    cli("init", "--engine", "demo", cwd=repo)

    cli("config", "set", "engines.reviewer.kind", "claude", cwd=repo)
    cli("config", "set", "engines.reviewer.model", "sonnet", cwd=repo)

    assert cli("config", "get", "engines.reviewer.kind", cwd=repo).output.strip() == "claude"
