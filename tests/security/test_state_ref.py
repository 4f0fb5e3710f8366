"""The state ref defends itself: a tip dflow did not write, or a state that fails validation,
is refused by every command, never built upon or pushed, and `dflow doctor --repair` restores
the last good state with every event kept."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.engines.demo_files import plan as demo_plan
from deksdenflow.store.encoding.layout import PROJECT_FILE, STATE_REF, event_path, open_job_path
from deksdenflow.workflow.lifecycle import runs
from tests.conftest import git
from tests.engines.conftest import install_fake
from tests.store.conftest import commit_file
from tests.workflow.conftest import configure, settle

from .conftest import fsck

DFLOW = str(Path(sys.executable).with_name("dflow"))
PASS = json.dumps({"verdict": "PASS", "summary": "ok", "findings": []})
FAKE_ID = "01M8GKPMF0G1GKYRJSFA0SPR7C"


def dflow(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DFLOW, *args], cwd=repo, capture_output=True, text=True,
                          timeout=120)


def _event_count(repo: Path, ref: str = STATE_REF) -> int:
    names = git("ls-tree", "-r", "--name-only", ref, cwd=repo).splitlines()
    return sum(1 for n in names if "/events/" in n or n.startswith("events/"))


def _remove_file(repo: Path, path: str) -> None:
    tip = git("rev-parse", STATE_REF, cwd=repo)
    env_index = repo / ".git" / "dflow-test-index"
    env = {"GIT_INDEX_FILE": str(env_index), "GIT_AUTHOR_NAME": "dflow",
           "PATH": __import__("os").environ["PATH"]}
    subprocess.run(["git", "read-tree", tip], cwd=repo, env=env, check=True)
    subprocess.run(["git", "rm", "-q", "--cached", path], cwd=repo, env=env, check=True)
    tree = subprocess.run(["git", "write-tree"], cwd=repo, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "commit-tree", tree, "-p", tip, "-m", "x"], cwd=repo,
                            env={**env, "GIT_COMMITTER_NAME": "x", "GIT_COMMITTER_EMAIL": "x@y",
                                 "GIT_AUTHOR_EMAIL": "x@y"},
                            check=True, capture_output=True, text=True).stdout.strip()
    git("update-ref", STATE_REF, commit, tip, cwd=repo)


def _uid(repo: Path) -> str:
    names = git("ls-tree", "-r", "--name-only", STATE_REF, cwd=repo).splitlines()
    return next(n.split("/")[2] for n in names if n.endswith("/run.json"))


ATTACKS: dict[str, Callable[[Path], None]] = {
    "moved to the code branch": lambda r: git("update-ref", STATE_REF, "HEAD", cwd=r) and None,
    "a foreign commit on top": lambda r: commit_file(r, PROJECT_FILE, b"x = 1\n",
                                                       author="Mallory") and None,
    "a broken event file": lambda r: commit_file(
        r, event_path(_uid(r), FAKE_ID), b"{not json") and None,
    "an unknown event type": lambda r: commit_file(r, event_path(_uid(r), FAKE_ID), json.dumps({
        "schema_version": 1, "id": FAKE_ID, "lamport": 99, "actor": "x", "at":
        "2026-01-01T00:00:00Z", "run": _uid(r), "type": "run.exploded", "data": {}}).encode()
    ) and None,
    "a broken open-job file": lambda r: commit_file(r, open_job_path(FAKE_ID), b"[]") and None,
    "project.toml removed": lambda r: _remove_file(r, PROJECT_FILE),
    "a file dflow never writes": lambda r: commit_file(r, "runme.sh", b"echo hi") and None,
    "a 100,000-deep event file": lambda r: commit_file(r, event_path(_uid(r), FAKE_ID), (
        b'{"schema_version":1,"data":' + b"[" * 100_000 + b"]" * 100_000 + b"}")) and None,
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_a_tampered_state_is_refused_and_repaired_with_every_event_kept(
    project: Project, repo: Path, attack: str
) -> None:
    runs.create_run(project, "x", "add a greeting", plan=False)
    good, events = git("rev-parse", STATE_REF, cwd=repo), _event_count(repo)

    ATTACKS[attack](repo)
    bad = git("rev-parse", STATE_REF, cwd=repo)

    commands = [["status"], ["new", "y", "--task", "t", "--no-plan"], ["pause", "1"],
                ["worker", "--burst"]]
    for args in commands if attack == "moved to the code branch" else commands[1:2]:
        out = dflow(repo, *args)
        assert out.returncode == 1, (args, out.stdout, out.stderr)
        assert out.stderr.startswith("error: ") and len(out.stderr.splitlines()) == 1, out.stderr
        assert "Traceback" not in out.stderr and "doctor --repair" in out.stderr
        assert git("rev-parse", STATE_REF, cwd=repo) == bad  # nothing written on top
    doctor = dflow(repo, "doctor")
    assert doctor.returncode == 1 and "FAIL  state ref" in doctor.stdout

    repaired = dflow(repo, "doctor", "--repair")

    assert repaired.returncode in (0, 1), repaired.stderr  # optional tools may still warn
    assert git("rev-parse", STATE_REF, cwd=repo) == good
    assert _event_count(repo) == events
    kept = git("for-each-ref", "--format=%(objectname)", "refs/deksdenflow/quarantine/",
               cwd=repo)
    assert kept == bad  # the tampered tip is kept, not destroyed
    assert dflow(repo, "new", "y", "--task", "t", "--no-plan").returncode == 0
    assert "FAIL  state ref" not in dflow(repo, "doctor").stdout
    fsck(repo)


def test_an_agent_that_moves_the_state_ref_is_refused_and_repaired(
    project: Project, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    codex = install_fake("codex", tmp_path, monkeypatch)
    plan = demo_plan("0001-x")
    codex.script(queue=[
        {"message": json.dumps(plan)},
        {"shell": [f"git update-ref {STATE_REF} HEAD"], "write": {"a.txt": "a\n"},
         "message": "done"},
        *[{"message": PASS}] * 12,  # a PASS verdict also serves as an executor's answer
    ])
    configure(project, {"phases.default": '"codex"'})
    runs.create_run(project, "x", "add a greeting")

    with pytest.raises(Exception, match="something other than dflow moved it"):
        settle(project)
    head = git("rev-parse", STATE_REF, cwd=repo)
    # Still the code commit the agent put there: refused, nothing was built on it.
    git("merge-base", "--is-ancestor", head, "0001-x", cwd=repo)

    assert dflow(repo, "doctor", "--repair").returncode in (0, 1)
    assert git("rev-parse", STATE_REF, cwd=repo) != head
    out = dflow(repo, "run", "1", "--wait")
    assert out.returncode == 0, out.stderr
    status = json.loads(dflow(repo, "status", "--json").stdout)
    assert status["runs"][0]["status"] == "completed"
    fsck(repo)
