"""The lowest-versions CI job pins every dependency to its floor (decision 0970)."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("lowest", ROOT / ".ci" / "lowest_constraints.py")
assert _spec is not None and _spec.loader is not None
lowest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lowest)


def test_a_floor_becomes_an_exact_pin() -> None:
    assert lowest.floor_pin("typer>=0.29") == "typer==0.29"
    assert lowest.floor_pin("pygit2>=1.21,<1.22") == "pygit2==1.21"
    assert lowest.floor_pin("markdown-it-py[linkify] >= 2.1") == "markdown-it-py==2.1"
    assert lowest.floor_pin("colorama; platform_system == 'Windows'") is None


def test_every_runtime_dependency_has_a_floor_the_job_pins() -> None:
    """A dependency without `>=` would escape the job and could be any version."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert len(lowest.constraints([])) == len(declared)
