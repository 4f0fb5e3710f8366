"""The work sync publishes passes the secret push check of `pr` and `land` (decision 1500):
a recorded commit that adds a secret file never leaves the machine, and neither does the
state that names it."""

from __future__ import annotations

from pathlib import Path

import pytest

from deksdenflow.domain.eventlog.payloads import RunNote
from deksdenflow.errors import CommitRefused
from deksdenflow.sync import service, work
from deksdenflow.workflow.lifecycle.runs import create_run
from tests.conftest import git

from .conftest import Clone
from .machines import remote_ref


def test_recorded_work_with_a_secret_is_not_published_nor_its_state(
        clone: Clone, remote: Path) -> None:
    a = clone("a")
    snap = create_run(a, "x", "add a greeting", plan=False)
    service.sync(a)
    worktree = a.root.parent / f"{a.root.name}.worktrees" / snap.run.branch
    (worktree / ".env").write_text("OPENAI_API_KEY=sk-proj-" + "a1B2c3D4" * 6 + "\n")
    git("add", "-A", cwd=worktree)
    git("commit", "-q", "-m", "config", cwd=worktree)
    commit = git("rev-parse", "HEAD", cwd=worktree)
    # recorded as the run's work (as a fix-CI commit is)
    a.store.transact(lambda tx: tx.emit(RunNote(text="fix", commit=commit), run=snap.run.uid))
    published = remote_ref(remote, "refs/deksdenflow/state")
    with pytest.raises(CommitRefused, match=r"\.env"):
        service.sync(a)
    assert remote_ref(remote, "refs/deksdenflow/state") == published
    assert remote_ref(remote, work.work_ref(snap.run.uid, snap.run.branch)) is None
