"""The package stays lint-clean and type-checks under mypy --strict (pyproject's settings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_finds_nothing() -> None:
    done = _run("ruff", "check", "deksdenflow", "tests", "benchmarks")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_passes_on_the_package(tmp_path: Path) -> None:
    done = _run("mypy", "--cache-dir", str(tmp_path / "mypy-cache"), "deksdenflow")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_import_contracts_of_the_floors_are_kept() -> None:
    """pyproject's [tool.importlinter] contracts (docs/architecture.md); the dev extra
    installs import-linter (tests/test_floors.py checks the same floors without it)."""
    pytest.importorskip("importlinter", reason="install the dev extra: ./install.sh --dev")
    done = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
