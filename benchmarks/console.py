"""Console speed: first full paint with 1,000 runs, and a ref move -> the updated screen.

    .venv/bin/python benchmarks/console.py [--runs 1000] [--moves 20]

Headless with Textual's Pilot against a real repository. Targets (issue 6): first paint
<= 1 s, ref move -> updated screen <= 300 ms. The baseline printed beside the incremental
refresh is what re-reading every run snapshot at the new tip would cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from textual.widgets import DataTable

from deksdenflow.console.app import DflowConsole
from deksdenflow.console.screens.runs import RunsScreen
from deksdenflow.context.project import Project
from deksdenflow.domain.models import StepStatus, Usage
from deksdenflow.domain.payloads import (
    PlannedStep,
    RunPaused,
    RunPlanned,
    RunResumed,
    StepFinished,
    StepStarted,
)
from deksdenflow.store import Tx
from deksdenflow.wiring import init_project, open_project
from deksdenflow.workflow import runs

SIZE = (120, 40)


def make_repo(root: Path, count: int) -> Path:
    repo = root / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"}
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    (repo / "README.md").write_text("# bench\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "init"], cwd=repo, check=True, env=env)
    project, _ = init_project(repo, engine="demo")
    project.store.transact(lambda tx: _fill(tx, count))
    return repo


def _fill(tx: Tx, count: int) -> None:
    """`count` runs, each planned with 3 steps, some of them started and finished."""
    steps = [PlannedStep(index=i, title=f"step {i}", file=f"{i:02d}-s.md") for i in range(3)]
    for n in range(count):
        snap = runs.record_run(tx, f"task-{n}", f"benchmark task {n}", base="main")
        uid = snap.run.uid
        tx.emit(RunPlanned(steps=steps), run=uid)
        for i in range(n % 4):
            if i < 3:
                tx.emit(StepStarted(), run=uid, step=i)
                tx.emit(StepFinished(next=StepStatus.COMPLETED, usage=Usage(input_tokens=100)),
                        run=uid, step=i)


async def first_paint(repo: Path, count: int) -> tuple[float, float, float]:
    """Seconds until the screen is full of runs (painted), until all are in the table, and
    the CPU time of this process until painted (which a busy machine does not inflate)."""
    started, cpu = time.perf_counter(), time.process_time()
    app = DflowConsole(repo, process_jobs=False)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#runs", DataTable)
        while table.row_count < count:
            await pilot.pause(0.001)
        screen = app.screen
        assert isinstance(screen, RunsScreen) and screen.painted_at
        return (screen.painted_at - started, time.perf_counter() - started,
                screen.painted_cpu - cpu)


async def ref_moves(repo: Path, count: int, moves: int) -> list[float]:
    other = open_project(repo)  # a second handle, as another process would have
    uids = [s.run.uid for s in other.view().runs() if s.run.status.value != "completed"]
    app = DflowConsole(repo, process_jobs=False)
    found: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#runs", DataTable)
        while table.row_count < count:
            await pilot.pause(0.01)
        for n in range(moves):
            uid = uids[(n * 37) % len(uids)]
            _toggle_pause(other, uid)
            moved = time.perf_counter()
            want = "(paused)" not in str(table.get_cell(uid, "status"))
            while ("(paused)" in str(table.get_cell(uid, "status"))) != want:
                await pilot.pause(0.002)
            await pilot.pause()
            found.append(time.perf_counter() - moved)
    return found


def _toggle_pause(project: Project, uid: str) -> None:
    def flip(tx: Tx) -> None:
        paused = tx.run(uid).run.paused
        tx.emit(RunResumed() if paused else RunPaused(), run=uid)

    project.store.transact(flip)


def full_reread(repo: Path) -> float:
    project = open_project(repo)
    started = time.perf_counter()
    project.view().runs()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--moves", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        repo = make_repo(Path(tmp), args.runs)
        print(f"built {args.runs} runs in {time.perf_counter() - t:.1f}s")
        paints, complete, cpus = zip(*(asyncio.run(first_paint(repo, args.runs))
                                       for _ in range(5)), strict=True)
        moves = asyncio.run(ref_moves(repo, args.runs, args.moves))
        reread = statistics.median(full_reread(repo) for _ in range(3))
    p95 = sorted(moves)[max(0, int(len(moves) * 0.95) - 1)]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'measure':<44}{'dflow console':>16}{'target':>12}")
    print(f"{'first full paint, ' + str(args.runs) + ' runs (median of 5)':<44}"
          f"{statistics.median(paints) * 1000:>13.0f} ms{'<= 1000 ms':>12}")
    print(f"{'  CPU time of the console until painted':<44}"
          f"{statistics.median(cpus) * 1000:>13.0f} ms{'-':>12}")
    print(f"{'all ' + str(args.runs) + ' rows in the table (median of 5)':<44}"
          f"{statistics.median(complete) * 1000:>13.0f} ms{'-':>12}")
    print(f"{'ref move -> updated screen, p50':<44}{statistics.median(moves) * 1000:>13.0f} ms"
          f"{'<= 300 ms':>12}")
    print(f"{'ref move -> updated screen, p95':<44}{p95 * 1000:>13.0f} ms{'<= 300 ms':>12}")
    print(f"{'baseline: re-read every run at the new tip':<44}{reread * 1000:>13.0f} ms"
          f"{'(avoided)':>12}")


if __name__ == "__main__":
    main()
