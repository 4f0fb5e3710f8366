"""Each way of breaking the state ref (moved to the code HEAD, a junk tree on the real tip, a
broken / schema-999 / unknown-type event, a broken open job, no project.toml) is refused by
every command — status, new, pause, worker --burst — with one line naming `dflow doctor
--repair`, nothing written on top; repair restores the tip with every event kept."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deksdenflow.context.project import Project
from deksdenflow.store.encoding.layout import event_path, open_job_path
from tests.conftest import git
from tests.security.conftest import fsck
from tests.store.conftest import add_run, commit_file

STATE = "refs/deksdenflow/state"


def _event_ids(repo: Path) -> set[str]:
    names = git("ls-tree", "-r", "--name-only", STATE, cwd=repo).splitlines()
    return {n for n in names if "/events/" in n or n.startswith("events/")}


def _move_to_code_head(repo: Path, project: Project) -> None:
    git("update-ref", STATE, "HEAD", cwd=repo)


def _junk_tree_on_tip(repo: Path, project: Project) -> None:
    tip = git("rev-parse", STATE, cwd=repo)
    tree = git("rev-parse", "HEAD^{tree}", cwd=repo)
    commit = git("commit-tree", tree, "-p", tip, "-m", "junk", cwd=repo)
    git("update-ref", STATE, commit, cwd=repo)


def _broken_event(repo: Path, project: Project) -> None:
    uid = project.store.read().runs()[0].run.uid
    commit_file(repo, event_path(uid, "01ZZZZZZZZZZZZZZZZZZZZZZZZ"), b"{not json")


def _newer_event(repo: Path, project: Project) -> None:
    uid = project.store.read().runs()[0].run.uid
    commit_file(repo, event_path(uid, "01ZZZZZZZZZZZZZZZZZZZZZZZZ"),
                b'{"schema_version": 999, "id": "01ZZZZZZZZZZZZZZZZZZZZZZZZ"}')


def _unknown_event_type(repo: Path, project: Project) -> None:
    uid = project.store.read().runs()[0].run.uid
    event = project.store.read().run_events(uid)[0].model_dump(mode="json")
    event.update(id="01ZZZZZZZZZZZZZZZZZZZZZZZZ", type="run.teleported")
    import json

    commit_file(repo, event_path(uid, event["id"]), json.dumps(event).encode())


def _broken_open_job(repo: Path, project: Project) -> None:
    commit_file(repo, open_job_path("01ZZZZZZZZZZZZZZZZZZZZZZZZ"), b"[1, 2")


def _missing_project_toml(repo: Path, project: Project) -> None:
    tip = git("rev-parse", STATE, cwd=repo)
    env_index = repo / ".git" / "dflow-test-index2"
    env = {"GIT_INDEX_FILE": str(env_index)}
    import os

    def plumb(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, env={**os.environ, **env},
                              capture_output=True, text=True, check=True).stdout.strip()

    plumb("read-tree", tip)
    plumb("rm", "--cached", "-q", "project.toml")
    commit = plumb("commit-tree", plumb("write-tree"), "-p", tip, "-m", "no project")
    git("update-ref", STATE, commit, cwd=repo)
    env_index.unlink()


BREAKERS: dict[str, Callable[[Path, Project], None]] = {
    "moved-to-code-head": _move_to_code_head,
    "junk-tree-on-real-tip": _junk_tree_on_tip,
    "broken-event": _broken_event,
    "newer-event": _newer_event,
    "unknown-event-type": _unknown_event_type,
    "broken-open-job": _broken_open_job,
    "missing-project-toml": _missing_project_toml,
}


@pytest.mark.parametrize("breaker", list(BREAKERS))
def test_a_refused_tip_stops_every_command_and_doctor_repair_restores_it(
    breaker: str, repo: Path, project: Project, cli: Callable[..., Any]
) -> None:
    add_run(project.store, "first")
    good = git("rev-parse", STATE, cwd=repo)
    events = _event_ids(repo)
    BREAKERS[breaker](repo, project)
    bad = git("rev-parse", STATE, cwd=repo)

    commands = (["status"], ["new", "another", "-t", "another task"], ["pause", "1"],
                ["worker", "--burst"])
    for args in commands:
        result = cli(*args, cwd=repo)
        assert result.exit_code == 1, (args, result.output)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "dflow doctor --repair" in lines[0], (args, result.output)
        assert "Traceback" not in result.output
        assert git("rev-parse", STATE, cwd=repo) == bad, args  # nothing written on top

    doctor = cli("doctor", cwd=repo)
    assert doctor.exit_code == 1 and "FAIL  state ref" in doctor.output

    repaired = cli("doctor", "--repair", cwd=repo)
    assert git("rev-parse", STATE, cwd=repo) != bad, repaired.output
    assert git("rev-parse", STATE, cwd=repo) == good
    assert _event_ids(repo) == events
    kept = git("for-each-ref", "--format=%(objectname)", "refs/deksdenflow/quarantine/", cwd=repo)
    assert kept.split() == [bad]
    assert cli("status", cwd=repo).exit_code == 0
    fsck(repo)

