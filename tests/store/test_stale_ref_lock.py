"""A writer killed inside libgit2's ref update leaves `<ref>.lock`; the next writer recovers."""

from __future__ import annotations

import os
import time

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.runs.models import JobKind
from deksdenflow.errors import LockTimeout
from deksdenflow.jobs import queue
from deksdenflow.store.encoding.layout import STATE_REF


def _note(project: Project) -> None:
    project.store.transact(lambda tx: queue.request(tx, JobKind.NOOP, run=None))


def test_a_stale_ref_lock_file_is_removed_and_the_write_goes_through(project: Project) -> None:
    lock = project.store.git_dir / f"{STATE_REF}.lock"
    lock.write_text("0" * 40 + "\n")
    old = time.time() - 60
    os.utime(lock, (old, old))
    before = project.store.tip()
    _note(project)
    assert project.store.tip() != before
    assert not lock.exists()


def test_a_ref_lock_that_is_not_a_file_is_an_error(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DFLOW_REF_LOCK_WAIT", "0.2")
    lock = project.store.git_dir / f"{STATE_REF}.lock"
    lock.mkdir()  # libgit2 cannot create its lock file, and it is not ours to remove
    old = time.time() - 60
    os.utime(lock, (old, old))
    before = project.store.tip()
    with pytest.raises(LockTimeout):
        _note(project)
    assert project.store.tip() == before
