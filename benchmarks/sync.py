"""Sync benchmark: two clones with N divergent events each, synced until identical.

Prints the time of `dflow sync` in both directions (a pushes, b fetches + merges + pushes,
a fetches the merge) next to plain git moving the same objects both ways (`git push` of each
clone's state ref to a bare remote, then `git fetch` of the other's). Target: <= 2 s.

    .venv/bin/python benchmarks/sync.py [--events 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DFLOW_ACTOR", "bench@localhost")

from deksdenflow.context.project import Project  # noqa: E402
from deksdenflow.domain.eventlog.payloads import RunNote
from deksdenflow.store import STATE_REF, Tx  # noqa: E402
from deksdenflow.sync import service, setup  # noqa: E402
from deksdenflow.wiring import Wiring  # noqa: E402
from deksdenflow.workflow.lifecycle.runs import record_run  # noqa: E402

RUNS = 20


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def make_remote(root: Path, name: str) -> Path:
    bare = root / name
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=root)
    seed = root / f"seed-{name}"
    git("init", "-q", "-b", "main", str(seed), cwd=root)
    (seed / "README.md").write_text("bench\n")
    git("add", "-A", cwd=seed)
    git("-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "init", cwd=seed)
    git("push", "-q", str(bare), "main", cwd=seed)
    return bare


def fill(project: Project, prefix: str, events: int) -> None:
    """`events` new events: RUNS runs, the rest notes spread over them, 50 per commit."""
    per_run = events // RUNS

    def batch(tx: Tx, index: int) -> None:
        uid = record_run(tx, f"{prefix}-{index}", "bench", base="main").run.uid
        for i in range(per_run - 1):
            tx.emit(RunNote(text=f"note {i}"), run=uid)

    for index in range(RUNS):
        project.store.transact(lambda tx, i=index: batch(tx, i))


def tree(project: Project) -> str:
    return git("rev-parse", f"{STATE_REF}^{{tree}}", cwd=project.root)


def one_round(root: Path, events: int) -> tuple[float, float, int]:
    remote = make_remote(root, "remote.git")
    a_path, b_path = root / "a", root / "b"
    git("clone", "-q", remote.as_uri(), str(a_path), cwd=root)
    a, _ = setup.init(Wiring(), a_path, engine="demo")
    git("clone", "-q", remote.as_uri(), str(b_path), cwd=root)
    b, _ = setup.init(Wiring(), b_path)
    fill(a, "a", events)
    fill(b, "b", events)
    # The baseline moves the very same objects with plain git (copies of both clones).
    plain = plain_git(root, a_path, b_path)
    started = time.perf_counter()
    service.sync(a)
    service.sync(b)
    service.sync(a)
    elapsed = time.perf_counter() - started
    assert tree(a) == tree(b), "clones did not converge"
    return elapsed, plain, len(a.view().runs())


def plain_git(root: Path, a_path: Path, b_path: Path) -> float:
    a2, b2 = root / "a2", root / "b2"
    shutil.copytree(a_path, a2, symlinks=True)
    shutil.copytree(b_path, b2, symlinks=True)
    bare = make_remote(root, "plain.git")
    started = time.perf_counter()
    git("push", "-q", str(bare), f"{STATE_REF}:refs/plain/a", cwd=a2)
    git("push", "-q", str(bare), f"{STATE_REF}:refs/plain/b", cwd=b2)
    git("fetch", "-q", str(bare), "refs/plain/a:refs/plain/a", cwd=b2)
    git("fetch", "-q", str(bare), "refs/plain/b:refs/plain/b", cwd=a2)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000, help="divergent events per clone")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    dflow_times, git_times = [], []
    for _ in range(args.repeat):
        root = Path(tempfile.mkdtemp(prefix="dflow-bench-sync-"))
        try:
            elapsed, plain, runs = one_round(root, args.events)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        dflow_times.append(elapsed)
        git_times.append(plain)
    print(f"sync benchmark: 2 clones x {args.events} divergent events ({runs} runs after "
          f"merge), median of {args.repeat}")
    print(f"  dflow sync a->remote, b<->remote (merge), a<-remote: "
          f"{statistics.median(dflow_times):6.3f} s   (target <= 2 s)")
    print(f"  plain git push+fetch of the same objects both ways: "
          f"{statistics.median(git_times):6.3f} s")


if __name__ == "__main__":
    main()
