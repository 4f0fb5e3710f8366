"""Store fixtures: an initialized repository's store, runs with steps, and plain-git edits."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import PlannedStep, RunCreated, RunPlanned
from deksdenflow.store import STATE_REF, Store, Tx
from tests.conftest import git


@pytest.fixture
def store(project: Project) -> Store:
    return project.store


def add_run(store: Store, name: str = "demo", steps: int = 2) -> str:
    """Create a run (planned with `steps` work steps when steps > 0); returns its uid."""

    def create(tx: Tx) -> str:
        number = max((s.run.number for s in tx.runs()), default=0) + 1
        uid = tx.emit(RunCreated(number=number, name=name, task=f"do {name}")).run
        assert uid is not None
        if steps:
            plan = [PlannedStep(index=i, title=f"step {i}") for i in range(1, steps + 1)]
            tx.emit(RunPlanned(steps=plan), run=uid)
        return uid

    return store.transact(create)


def commit_file(repo: Path, path: str, data: bytes, message: str = "edit by hand",
                author: str | None = "dflow") -> str:
    """Put `data` at `path` in a new commit on the state ref with git plumbing only (what
    a user fixing, or breaking, the ref by hand would do; with `author="dflow"`, what another
    dflow would write). Returns the new tip."""
    tip = git("rev-parse", STATE_REF, cwd=repo)
    env = {**os.environ, "GIT_INDEX_FILE": str(repo / ".git" / "dflow-test-index")}
    if author is not None:
        env["GIT_AUTHOR_NAME"] = author

    def plumb(*args: str, stdin: bytes | None = None) -> str:
        out = subprocess.run(["git", *args], cwd=repo, env=env, input=stdin,
                             capture_output=True, check=True)
        return out.stdout.decode().strip()

    plumb("read-tree", tip)
    blob = plumb("hash-object", "-w", "--stdin", stdin=data)
    plumb("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")
    commit = plumb("commit-tree", plumb("write-tree"), "-p", tip, "-m", message)
    plumb("update-ref", STATE_REF, commit, tip)
    Path(env["GIT_INDEX_FILE"]).unlink()
    return commit
