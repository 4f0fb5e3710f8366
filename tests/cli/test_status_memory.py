"""The per-run status cache is written and read without copies of its whole body (10,000 runs
are ~14 MB of JSON; `dflow status` must stay under 150 MB there, issue 16)."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import RunCreated
from deksdenflow.reads import hit
from deksdenflow.reads import listing as status_lines
from deksdenflow.reads.listing import Excerpt
from deksdenflow.store import Tx

DFLOW = str(Path(sys.executable).with_name("dflow"))
RUNS = 2000


def _lines() -> dict[str, Excerpt]:
    return {f"{n:040x}": Excerpt(n, f"uid-{n}", f"{n:04d}-run", "planned", "planned", False, 0, 3,
                              "-", 0, "", "", [],
                              json.dumps({"task": "x" * 900, "n": n}, indent=2))
            for n in range(RUNS)}


def _peak_above(call: object, *args: object) -> tuple[object, int]:
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        result = call(*args)  # type: ignore[operator]
        return result, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_the_cache_is_written_and_read_back_without_whole_body_copies(tmp_path: Path) -> None:
    common = str(tmp_path)
    found = _lines()
    body = sum(len(line.fragment) for line in found.values())
    _, saving = _peak_above(status_lines._save, common, "k", found)
    assert saving < 0.8 * body  # the index as one json.dumps, the body joined: 2.8x
    loaded, loading = _peak_above(status_lines._load, common, "k")
    assert loaded == found
    # the file's bytes, the fragments and the rows themselves; sliced and decoded whole: 4.3x
    assert loading < 3.6 * body


def test_runs_with_text_beyond_ascii_come_back_whole_from_the_cache(project: Project,
                                                                     repo: Path) -> None:
    """Offsets are in bytes: a task in another script must not shift the runs after it."""

    def create(tx: Tx) -> None:
        for n, task in enumerate(["résumé ✓ naïve", "plain", "日本語のタスク", "plain again"]):
            tx.emit(RunCreated(number=n + 1, name=f"r{n}", task=task))

    project.store.transact(create)
    status = [DFLOW, "status", "--json"]
    first = subprocess.run(status, cwd=repo, capture_output=True, text=True, check=True).stdout
    folder = repo / ".git" / "deksdenflow" / "cache"
    (folder / hit.LISTING).unlink()  # the next call reads the per-run lines
    lines = folder / status_lines.LINES
    lines.write_bytes(lines.read_bytes().replace(b"plain again", b"PLAIN AGAIN"))
    again = subprocess.run(status, cwd=repo, capture_output=True, text=True, check=True).stdout
    assert again == first.replace("plain again", "PLAIN AGAIN")  # read from there, whole
    assert [r["task"] for r in json.loads(again)["runs"]][::2] == ["résumé ✓ naïve",
                                                                  "日本語のタスク"]
