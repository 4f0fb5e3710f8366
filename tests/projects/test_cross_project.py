"""Across projects: `status --all`, `-C NAME|PATH`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import make_repo


def _two_projects(cli: Any, tmp_path: Path) -> tuple[Path, Path]:
    first = make_repo(tmp_path / "first")
    second = make_repo(tmp_path / "second")
    for repo in (first, second):
        assert cli("projects", "add", str(repo), "--engine", "demo").exit_code == 0
    return first, second


def test_dash_c_acts_on_a_registered_project_from_anywhere(cli: Any, tmp_path: Path) -> None:
    first, second = _two_projects(cli, tmp_path)
    made = cli("-C", "second", "new", "x", "--task", "do x", "--no-plan", cwd=first)
    assert made.exit_code == 0, made.output
    assert "created 0001-x" in made.output
    by_path = cli("-C", str(first), "status", "--json", cwd=tmp_path)
    assert json.loads(by_path.output)["runs"] == []
    unknown = cli("-C", "nowhere", "status", cwd=first)
    assert unknown.exit_code == 2 and "no registered project" in unknown.output


def test_status_all_lists_every_projects_runs_with_its_project(cli: Any,
                                                               tmp_path: Path) -> None:
    first, second = _two_projects(cli, tmp_path)
    cli("new", "a", "--task", "do a", "--no-plan", cwd=first)
    cli("new", "b", "--task", "do b", "--no-plan", cwd=second)
    cli("new", "c", "--task", "do c", "--no-plan", cwd=second)
    listed = json.loads(cli("status", "--all", "--json", cwd=tmp_path).output)
    assert [(r["project"], r["id"], r["status"]) for r in listed["runs"]] == [
        ("first", "0001-a", "pending"), ("second", "0001-b", "pending"),
        ("second", "0002-c", "pending")]
    alone = json.loads(cli("status", "--json", cwd=second).output)["runs"][0]
    assert {k: v for k, v in listed["runs"][1].items() if k != "project"} == alone
    table = cli("status", "--all", cwd=tmp_path).output
    assert "first" in table and "0002-c" in table
    assert cli("run", "0002-c", cwd=second).exit_code == 0  # c now moves on its own
    counts = json.loads(cli("projects", "--json").output)
    # Waiting for you is what the reconciler says: a hands-off run waits for `dflow run`.
    assert [(p["name"], p["runs_active"], p["waiting"]) for p in counts] == [
        ("first", 1, 1), ("second", 2, 1)]
