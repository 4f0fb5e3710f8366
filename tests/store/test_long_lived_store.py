"""A long-lived store (a worker, the console) must not keep every rolled-up pack
mapped. Found while checking 7bc3cd2 (decision 1324) for memory growth; it is older than that
commit (roll-ups, decision 1320): libgit2 keeps the windows of packs whose files the roll-up
deleted, so their disk space is never freed while the process lives and the process' map
count grows by about one deleted pack file per ~7 commits (vm.max_map_count is 65,530);
411 deleted .pack/.idx files still mapped after 3,000 commits, and growing."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import RunNote
from deksdenflow.store.plumbing.libgit2 import configure_libgit2
from deksdenflow.store.plumbing.pack import RollUp
from tests.store.conftest import add_run

COMMITS = 1000  # without the fix ~180 deleted pack files are mapped by then, growing


def _deleted_pack_maps() -> int:
    """Deleted pack files (.pack or .idx) this process still maps."""
    return len({line.split()[-2] for line in Path("/proc/self/maps").read_text().splitlines()
                if line.endswith("(deleted)") and "/objects/pack/" in line})


@pytest.mark.slow
def test_rolled_up_packs_are_not_kept_mapped_by_a_long_lived_store(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    # Retired packs lose their data after RETIRE_AFTER_S (120 s); a worker lives far longer.
    monkeypatch.setattr(RollUp, "RETIRE_AFTER_S", 0.0)
    configure_libgit2(fsync=False)
    store = project.store
    uids = [add_run(store, name=f"r{i}", steps=0) for i in range(100)]
    for n in range(COMMITS):
        uid = uids[(n * 37) % 100]
        store.transact(lambda tx, n=n, uid=uid: tx.emit(RunNote(text=str(n)), run=uid) and None)
    gc.collect()  # a Repository in a reference cycle goes at the next collection
    kept = _deleted_pack_maps()
    assert kept <= 16, f"{kept} mappings of deleted packs"  # 0 with the fix
