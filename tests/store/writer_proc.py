"""A separate writer process for the concurrency and crash tests.

    python writer_proc.py REPO RUN_UID NAME COUNT [ARTIFACT_BYTES]

Appends COUNT run.note events (COUNT < 0: forever), one transaction each, through the real
store, printing nothing. With ARTIFACT_BYTES each transaction also writes an artifact of that
size, so a kill is likely to land in the middle of writing objects.
"""

from __future__ import annotations

import itertools
import os
import sys

from deksdenflow.domain.eventlog.payloads import RunNote
from deksdenflow.store import Tx, open_store
from deksdenflow.store.plumbing.libgit2 import configure_libgit2


def main(repo: str, uid: str, name: str, count: int, artifact_bytes: int = 0) -> None:
    configure_libgit2(fsync=False)  # as the composition root does in every dflow process
    store = open_store(repo, actor=f"{name}@test")
    numbers = range(count) if count >= 0 else itertools.count()
    for n in numbers:

        def note(tx: Tx, n: int = n) -> None:
            tx.emit(RunNote(text=f"{name} {n}"), run=uid)
            if artifact_bytes:
                tx.put_artifact(uid, f"{name}/{n % 50}.log", os.urandom(artifact_bytes),
                                cap=artifact_bytes)

        store.transact(note)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], args[1], args[2], int(args[3]), int(args[4]) if len(args) > 4 else 0)
