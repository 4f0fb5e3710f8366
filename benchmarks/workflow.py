"""Orchestration overhead per step with the demo engine (target: <= 50 ms per step).

    .venv/bin/python benchmarks/workflow.py [--runs 5]

Takes N protocol runs (3 steps each, QA after each step) from `dflow new` to `completed` in a
scratch repository, in-process like `dflow run --wait`. Overhead = wall time minus the time
spent inside the engine (the demo's own file writes and the real checks its QA runs), divided
by the steps completed; the git CLI time on the code branches (commits, diffs) is shown apart.
Not a test: figures only.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deksdenflow.engines import demo as demo_engine  # noqa: E402
from deksdenflow.git import runner as git_runner  # noqa: E402
from deksdenflow.wiring import init_project  # noqa: E402
from deksdenflow.workflow.lifecycle import controls, runs  # noqa: E402
from deksdenflow.workflow.lifecycle import demo as demo_repo  # noqa: E402

TARGET_MS = 50.0


class Clock:
    """Accumulates the time spent inside one wrapped function, its calls, and the CPU time
    of the child processes it waited for (for git: the git processes themselves)."""

    def __init__(self) -> None:
        self.total = self.children = 0.0
        self.calls = 0

    def reset(self) -> None:
        self.total = self.children = 0.0
        self.calls = 0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started, before = time.perf_counter(), _children_cpu()
            try:
                return fn(*args, **kwargs)
            finally:
                self.total += time.perf_counter() - started
                self.children += _children_cpu() - before
                self.calls += 1

        return timed


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    engine, git = Clock(), Clock()
    demo_engine.DemoEngine.run = engine.wrap(demo_engine.DemoEngine.run)  # type: ignore[method-assign]
    git_runner.execute = git.wrap(git_runner.execute)  # type: ignore[assignment]
    with tempfile.TemporaryDirectory(prefix="dflow-bench-") as tmp:
        repo = demo_repo.make_repo(Path(tmp))
        project, _ = init_project(repo, engine="demo")
        per_run, steps = [], 0
        warm = runs.create_run(project, "warm-up", "benchmark")  # imports, caches: not measured
        controls.run_until_settled(project, warm.run.id, "bench", True)
        git.reset()
        engine.reset()
        first = _commits(repo)
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(args.runs):
            one = time.perf_counter()
            snap = runs.create_run(project, f"bench-{i}", "benchmark")
            done = controls.run_until_settled(project, snap.run.id, "bench", True)
            assert done.run.status.value == "completed", done.run.blocks
            steps += len(done.steps)
            per_run.append(time.perf_counter() - one)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        commits = _commits(repo) - first
    report(args.runs, steps, wall, engine.total, git.total, per_run, commits)
    print(f"  git processes         {git.calls / steps:9.1f} per step   "
          f"({git.children / steps * 1000:.1f} ms of their own CPU per step)")
    print(f"  dflow process CPU     {cpu / steps * 1000:9.1f} ms per step   (in-process work "
          "only; insensitive to other load)")
    print(f"  load average          {os.getloadavg()[0]:9.2f}      (on {os.cpu_count()} cores)")


def _commits(repo: Path) -> int:
    return int(subprocess.run(["git", "rev-list", "--count", "refs/deksdenflow/state"],
                              cwd=repo, capture_output=True, text=True).stdout.strip())


def report(n: int, steps: int, wall: float, engine: float, git: float, per_run: list[float],
           commits: int) -> None:
    overhead_ms = (wall - engine) / steps * 1000
    print(f"workflow benchmark: {n} runs x 3 steps (execute + QA each), demo engine, "
          f"python {sys.version.split()[0]}")
    median = statistics.median(per_run) * 1000
    print(f"  wall time             {wall * 1000:9.0f} ms   ({median:.0f} ms median per run, "
          "incl. plan)")
    print(f"  inside the engine     {engine * 1000:9.0f} ms   (demo writes + real QA checks)")
    print(f"  state ref commits     {commits:>9}   ({commits / steps:.1f} per step, incl. "
          "new + plan)")
    print(f"  overhead per step     {overhead_ms:9.1f} ms   target <= {TARGET_MS:.0f} ms  "
          f"{'OK' if overhead_ms <= TARGET_MS else 'OVER TARGET'}")
    print(f"    of which git CLI    {git / steps * 1000:9.1f} ms   (branch, worktree, commits, "
          "diffs)")
    print(f"    store + dflow       {(wall - engine - git) / steps * 1000:9.1f} ms")


if __name__ == "__main__":
    main()
