"""Read commands answered before Typer (docs/decisions/1310): the same bytes as the command.

Each fast answer is compared with the regular command's, which `--debug` forces (any other
argument leaves the fast path), in real processes on real repositories.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from deksdenflow.context.project import Project
from deksdenflow.domain.models import JobKind
from deksdenflow.jobs import queue
from deksdenflow.jobs.workers import WorkerRecord
from deksdenflow.store import codec
from deksdenflow.store.layout import OPEN_JOBS_DIR
from tests.cli.test_lazy_cli import heavy_in, loaded_by
from tests.store.conftest import add_run

DFLOW = str(Path(sys.executable).with_name("dflow"))


def dflow(cwd: Path, *args: str, code: int = 0, **env: str) -> tuple[str, str]:
    """stdout and stderr, with `4s ago` made independent of the clock (and so the padding
    of the column it ends)."""
    out = subprocess.run([DFLOW, *args], cwd=cwd, capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "120", **env}, timeout=120)
    assert out.returncode == code, out.stderr
    return _clockless(out.stdout), out.stderr


def _clockless(text: str) -> str:
    return "\n".join(re.sub(r"\d+[smh] ago *$", "<AGO>", line).rstrip(" ")
                     for line in text.split("\n"))


def same_both_ways(cwd: Path, *args: str, **env: str) -> str:
    """The fast answer, after checking that the command (through Typer) prints the same."""
    fast = dflow(cwd, *args, **env)
    assert fast == dflow(cwd, "--debug", *args, **env)
    return fast[0]


def answered_fast(cwd: Path, *args: str) -> bool:
    modules = loaded_by(list(args), cwd=cwd)
    assert heavy_in(modules) == []
    return "typer" not in modules


def test_the_fast_paths_know_the_schema_versions_the_store_writes() -> None:
    from deksdenflow.cli import workers_fast

    assert codec.CURRENT_VERSIONS["job"] == workers_fast.JOB_SCHEMA
    assert codec.CURRENT_VERSIONS["snapshot"] == workers_fast.SNAPSHOT_SCHEMA
    assert workers_fast.OPEN_JOBS_DIR == OPEN_JOBS_DIR


def test_workers_without_workers_counts_the_queue(project: Project, repo: Path) -> None:
    uid = add_run(project.store, "one")
    later = datetime.now(UTC) + timedelta(hours=1)
    for not_before in (None, later, None):
        project.store.transact(lambda tx, nb=not_before: queue.request(
            tx, JobKind.NOOP, run=uid, step=1, not_before=nb))
    queue.claim(project.store, "w-test")
    text = same_both_ways(repo, "workers")
    assert text.endswith("queue: 2 requested (1 waiting to retry), 1 claimed\n")
    assert answered_fast(repo, "workers")


def test_workers_lists_the_live_ones_and_forgets_the_dead(project: Project, repo: Path) -> None:
    uid = add_run(project.store, "one")
    job = project.store.transact(lambda tx: queue.request(tx, JobKind.NOOP, run=uid, step=2))
    busy, idle, dead = (WorkerRecord(project.store, name) for name in ("w-b", "w-a", "w-dead"))
    for record in (busy, idle, dead):
        record.open()  # holds its lock in this process: alive, as far as a reader can see
    busy.busy(job)
    dead.close()
    dead.info_path.write_text(dead.info.model_dump_json())  # a record whose lock is free
    text = same_both_ways(repo, "workers")
    assert "0001-one/02" in text and "w-dead" not in text and not dead.info_path.exists()
    assert answered_fast(repo, "workers")
    busy.close()
    idle.close()


def test_an_unusual_worker_record_goes_through_the_command(project: Project,
                                                           repo: Path) -> None:
    add_run(project.store, "one")
    record = WorkerRecord(project.store, "w-odd")
    record.open()
    text = record.info.model_dump_json()
    record.info_path.write_text(text.replace(f'"pid":{os.getpid()}', f'"pid":"{os.getpid()}"'))
    assert f'"pid":"{os.getpid()}"' in record.info_path.read_text()  # pydantic's call
    assert not answered_fast(repo, "workers")
    same_both_ways(repo, "workers")
    record.close()
