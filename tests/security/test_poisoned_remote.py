"""A teammate with push access to the shared ref pushes a poisoned state: a 100,000-deep event
file, an oversized event or artifact, a symlink entry. It is refused as a whole, before it is
parsed, with one sentence; every local command keeps working; `dflow doctor` names the bad
commit and `dflow doctor --repair` leaves the local state usable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.store.encoding.incoming import (
    MAX_ARTIFACT_BYTES,
    MAX_EVENT_BYTES,
    RemoteStateRefused,
)
from deksdenflow.store.encoding.layout import STATE_REF, event_path
from deksdenflow.sync import service
from deksdenflow.workflow.lifecycle import runs
from tests.conftest import git
from tests.sync.conftest import Clone

from .conftest import fsck

DFLOW = str(Path(sys.executable).with_name("dflow"))
FAKE_ID = "01M8GKPMF0G1GKYRJSFA0SPR7C"
TRACKING = "refs/deksdenflow/remotes/origin/state"


def dflow(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DFLOW, *args], cwd=repo, capture_output=True, text=True,
                          timeout=120)


def _uid(repo: Path) -> str:
    names = git("ls-tree", "-r", "--name-only", STATE_REF, cwd=repo).splitlines()
    return next(n.split("/")[2] for n in names if n.endswith("/run.json"))


def _push_entry(repo: Path, path: str, data: bytes, mode: str = "100644") -> str:
    """What a hostile teammate does with plumbing: a dflow-authored commit on top of the
    shared state adding one entry, pushed to the remote's state ref. Returns the commit."""
    env = {**os.environ, "GIT_INDEX_FILE": str(repo / ".git" / "poison-index"),
           "GIT_AUTHOR_NAME": "dflow", "GIT_COMMITTER_NAME": "dflow"}

    def plumb(*args: str, stdin: bytes | None = None) -> str:
        return subprocess.run(["git", *args], cwd=repo, env=env, input=stdin,
                              capture_output=True, check=True).stdout.decode().strip()

    tip = plumb("rev-parse", STATE_REF)
    plumb("read-tree", tip)
    blob = plumb("hash-object", "-w", "--stdin", stdin=data)
    plumb("update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}")
    commit = plumb("commit-tree", plumb("write-tree"), "-p", tip, "-m", "dflow: poison")
    plumb("push", "-q", "origin", f"{commit}:{STATE_REF}")
    return commit


def _deep_event(uid: str) -> bytes:
    data = "[" * 100_000 + "]" * 100_000
    head = json.dumps({"schema_version": 1, "id": FAKE_ID, "lamport": 99, "actor": "x",
                       "at": "2026-01-01T00:00:00Z", "run": uid, "type": "run.paused"})
    return (head[:-1] + ', "data": {"x": ' + data + "}}").encode()


POISONS: dict[str, Callable[[str], tuple[str, bytes, str]]] = {
    "a 100,000-deep event": lambda uid: (event_path(uid, FAKE_ID), _deep_event(uid), "100644"),
    "an event over the cap": lambda uid: (
        event_path(uid, FAKE_ID),
        b'{"schema_version":1,"pad":"' + b"x" * (MAX_EVENT_BYTES + 1) + b'"}', "100644"),
    "an artifact over the cap": lambda uid: (
        f"runs/{uid[:2]}/{uid}/artifacts/transcripts/big.log",
        b"y" * (MAX_ARTIFACT_BYTES + 1), "100644"),
    "a symlink entry": lambda uid: (
        f"runs/{uid[:2]}/{uid}/artifacts/transcripts/link.log", b"/etc/passwd", "120000"),
}


def test_the_artifact_setting_cannot_exceed_the_cap_every_clone_checks() -> None:
    from deksdenflow.domain.config.settings import ArtifactsSection

    assert ArtifactsSection.model_fields["max_bytes"].metadata[-1].le == MAX_ARTIFACT_BYTES


def _poisoned(clone: Clone, poison: str) -> tuple[Project, str, str]:
    """Clone a and a teammate's clone b share a run; b pushes `poison`. (a, good tip, bad)."""
    a, b = clone("a"), clone("b")
    runs.create_run(b, "x", "add a greeting", plan=False)
    service.sync(b)
    service.sync(a)
    good = git("rev-parse", STATE_REF, cwd=a.root)
    path, data, mode = POISONS[poison](_uid(b.root))
    return a, good, _push_entry(b.root, path, data, mode)


@pytest.mark.parametrize("poison", [p for p in POISONS if p != "a 100,000-deep event"])
def test_a_poisoned_push_is_refused_before_it_is_parsed(clone: Clone, poison: str) -> None:
    a, good, bad = _poisoned(clone, poison)

    with pytest.raises(RemoteStateRefused, match=bad[:12]) as refused:
        service.sync(a)

    assert len(str(refused.value).splitlines()) == 1
    assert git("rev-parse", STATE_REF, cwd=a.root) == good
    assert a.view().runs()  # reads still work
    fsck(a.root)


def test_a_100000_deep_event_pushed_by_a_teammate_breaks_no_command(clone: Clone) -> None:
    a, good, bad = _poisoned(clone, "a 100,000-deep event")
    git("fetch", "-q", "origin", cwd=a.root)  # plain git brings it into the tracking ref
    assert git("rev-parse", TRACKING, cwd=a.root) == bad

    status = dflow(a.root, "status")  # the implicit merge refuses it; the command works
    assert status.returncode == 0, status.stderr
    assert "Traceback" not in status.stderr and bad[:12] in status.stderr
    assert "0001-x" in status.stdout
    synced = dflow(a.root, "sync")
    assert synced.returncode == 1, synced.stderr
    assert synced.stderr.startswith("error: ") and len(synced.stderr.splitlines()) == 1
    assert bad[:12] in synced.stderr and "Traceback" not in synced.stderr
    assert git("rev-parse", STATE_REF, cwd=a.root) == good  # nothing of it was taken
    made = dflow(a.root, "new", "y", "--task", "t", "--no-plan")
    assert made.returncode == 0, made.stderr

    doctor = dflow(a.root, "doctor")
    assert doctor.returncode == 1 and bad[:12] in doctor.stdout, doctor.stdout
    repaired = dflow(a.root, "doctor", "--repair")
    assert repaired.returncode in (0, 1) and "Traceback" not in repaired.stderr
    assert bad[:12] not in dflow(a.root, "doctor").stdout  # set aside until the next fetch
    quarantined = git("for-each-ref", "--format=%(objectname)", "refs/deksdenflow/quarantine/",
                      cwd=a.root)
    assert bad in quarantined.splitlines()
    after = dflow(a.root, "status", "--json")
    assert after.returncode == 0 and "Traceback" not in after.stderr
    assert {r["name"] for r in json.loads(after.stdout)["runs"]} >= {"x", "y"}
    fsck(a.root)
