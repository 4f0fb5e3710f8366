"""Every DFLOW_* variable has one owner (deksdenflow/environment.py), a row in
docs/environment.md, and a bad value is one sentence naming it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deksdenflow import environment
from deksdenflow.domain.correlation import ENV_NAMES

ROOT = Path(__file__).resolve().parents[1]
SET_FOR_ENGINES = set(ENV_NAMES.values())
# Read by the CI workflows dflow writes, not by dflow (docs/ci.md), and a settings override
# named as an example.
NOT_READ_BY_DFLOW = {"DFLOW_INSTALL", "DFLOW_PUSH_TOKEN", "DFLOW_QA_POLICY"}


def _read_in_package() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "deksdenflow").rglob("*.py"):
        names |= set(re.findall(r"\bDFLOW_[A-Z][A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    return names - SET_FOR_ENGINES - NOT_READ_BY_DFLOW


def test_every_variable_the_package_names_is_owned_and_documented() -> None:
    owned = set(environment.BY_NAME)
    assert _read_in_package() - owned == set()
    documented = set(re.findall(r"`(DFLOW_[A-Z0-9_]+)`", (ROOT / "docs/environment.md")
                                .read_text()))
    assert owned - documented == set()


def test_nothing_reads_a_dflow_variable_around_the_owner() -> None:
    around = [str(p.relative_to(ROOT)) for p in (ROOT / "deksdenflow").rglob("*.py")
              if p.name != "environment.py"
              and re.search(r"environ(\.get)?[\[(]\s*\"DFLOW_", p.read_text())]
    assert around == ["deksdenflow/cli/app.py"]  # DFLOW_DEBUG, raw, so it cannot hide errors


@pytest.mark.parametrize("name, value", [("DFLOW_LOCK_TIMEOUT", "soon"),
                                         ("DFLOW_GC_SAMPLE", "-3"), ("DFLOW_FSYNC", "maybe")])
def test_a_bad_value_is_one_sentence_naming_the_variable(
    project: Any, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, name: str,
    value: str
) -> None:
    monkeypatch.setenv(name, value)
    result = cli("status", cwd=project.root)
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {name}={value!r} ")
    assert "Traceback" not in result.output


def test_values_are_read_when_used_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DFLOW_REF_LOCK_WAIT", "0.25")
    assert environment.seconds("DFLOW_REF_LOCK_WAIT") == 0.25
    monkeypatch.delenv("DFLOW_REF_LOCK_WAIT")
    assert environment.seconds("DFLOW_REF_LOCK_WAIT") == 10.0


@pytest.mark.parametrize("xdg", [None, "", "  ", "/elsewhere/config"])
def test_the_default_user_config_is_where_platformdirs_puts_it(
        xdg: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv("DFLOW_CONFIG_FILE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    if xdg is None:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
    expected = str(Path(platformdirs.user_config_dir("dflow")) / "config.toml")
    assert environment.user_config_path() == expected
