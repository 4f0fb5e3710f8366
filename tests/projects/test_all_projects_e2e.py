"""Issue 15's "done when", end to end: two projects (a local path and a file:// URL of a bare
repository), `status --all --json`, `-C second new` from the first one's directory, and one
pool (`dflow worker --all-projects --burst`) finishing runs in both, fairly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deksdenflow.domain.eventlog.events import EventType
from deksdenflow.projects import registry
from deksdenflow.wiring import open_project
from tests.conftest import make_repo
from tests.projects.test_onboarding import make_bare


def _finished_jobs(path: str, name: str) -> list[tuple[Any, str]]:
    view = open_project(path).view()
    found = []
    for snap in view.runs():
        for e in view.run_events(snap.run.uid):
            if e.type == EventType.JOB_FINISHED:
                found.append((e.at, name))
    return found


@pytest.mark.slow
def test_two_projects_one_pool_from_anywhere(cli: Any, tmp_path: Path) -> None:
    first = make_repo(tmp_path / "first")
    bare = make_bare(tmp_path)
    assert cli("projects", "add", str(first), "--engine", "demo").exit_code == 0
    added = cli("projects", "add", f"file://{bare}", "--engine", "demo", cwd=tmp_path)
    assert added.exit_code == 0, added.output
    for name in ("a", "b", "c"):
        assert cli("new", name, "--task", f"do {name}", cwd=first).exit_code == 0
    made = cli("-C", "second", "new", "x", "--task", "do x", "--engine", "demo", cwd=first)
    assert made.exit_code == 0, made.output

    listed = json.loads(cli("status", "--all", "--json", cwd=first).output)
    assert sorted((r["project"], r["id"]) for r in listed["runs"]) == [
        ("first", "0001-a"), ("first", "0002-b"), ("first", "0003-c"), ("second", "0001-x")]

    worked = cli("worker", "--all-projects", "--burst", "-j", "1", cwd=tmp_path)
    assert worked.exit_code == 0, worked.output
    done = json.loads(cli("status", "--all", "--json", cwd=tmp_path).output)
    assert {(r["project"], r["status"]) for r in done["runs"]} == {
        ("first", "completed"), ("second", "completed")}

    # fair: the second project's first job did not wait for the first project's queue
    entries = registry.load().projects
    order = sorted(_finished_jobs(entries["first"].path, "first")
                   + _finished_jobs(entries["second"].path, "second"))
    before_second = [who for _, who in order].index("second")
    assert before_second <= 1, [who for _, who in order]
