"""Console speed and memory: first paint with 1,000 runs, a ref move -> the updated screen,
the idle RSS of `dflow worker -j 4`, and the RSS of `dflow status` on 10,000 runs.

    .venv/bin/python benchmarks/console.py [--runs 1000] [--moves 60] [--status-runs 10000]

Headless with Textual's Pilot against a real repository, its runs written through the store
in commits of 500 runs. Targets (issue 16): first paint <= 500 ms, ref move -> updated screen
p95 <= 150 ms (another handle pauses or resumes a run whose row is on screen; the clock stops
at the refresh that paints it; the ref's files watched, the poll-only console beside it),
`dflow status` on 10,000 runs <= 150 MB RSS (no cache, then with the cache it left); the
worker's idle RSS is stated. The baseline printed beside the incremental refresh is what
re-reading every run snapshot at the new tip would cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from textual.widgets import DataTable

from deksdenflow.console.app import DflowConsole
from deksdenflow.console.screens.runs import RunsScreen
from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import (
    PlannedStep,
    RunCreated,
    RunPaused,
    RunPlanned,
    RunResumed,
    StepFinished,
    StepStarted,
)
from deksdenflow.domain.runs.models import StepStatus, Usage
from deksdenflow.store import Tx
from deksdenflow.wiring import init_project, open_project

SIZE = (120, 40)
BIN = Path(sys.executable).parent
BATCH = 500  # runs per state commit while building the fixture


def make_repo(root: Path, count: int) -> Path:
    repo = root / "repo"
    repo.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"}
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    (repo / "README.md").write_text("# bench\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "init"], cwd=repo, check=True, env=env)
    project, _ = init_project(repo, engine="demo")
    for start in range(0, count, BATCH):
        project.store.transact(lambda tx, n=start: _fill(tx, n, min(BATCH, count - n)))
    return repo


def _fill(tx: Tx, first: int, count: int) -> None:
    """Runs `first` .. `first + count - 1`, each planned with 3 steps, some of them started
    and finished. They are numbered as `dflow new` would number them (1, 2, ...), without
    `runs.record_run`'s listing of every run before (quadratic: 10,000 runs took > 15 min)."""
    steps = [PlannedStep(index=i, title=f"step {i}", file=f"{i:02d}-s.md") for i in range(3)]
    for n in range(first, first + count):
        number, name = n + 1, f"task-{n}"
        uid = tx.emit(RunCreated(number=number, name=name, task=f"benchmark task {n}",
                                 branch=f"{number:04d}-{name}", base="main")).run
        assert uid is not None
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


async def ref_moves(repo: Path, count: int, moves: int,
                    watch: bool = True) -> tuple[list[float], list[float]]:
    """Seconds from another handle's commit to the screen painted with it, and this
    process's CPU seconds over the same span, for `moves` pauses and resumes of runs whose
    rows are on screen (a run scrolled out of sight changes nothing on the screen)."""
    other = open_project(repo)  # a second handle, as another process would have
    app = DflowConsole(repo, process_jobs=False, watch_files=watch)
    found: list[float] = []
    cpu: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#runs", DataTable)
        while table.row_count < count:
            await pilot.pause(0.01)
        await pilot.pause(0.3)  # the file watch is set up
        assert app.watching == watch, "the ref files could not be watched here"
        uids = _on_screen(table, other)
        for n in range(moves):
            uid = uids[n % len(uids)]
            was = _shows_paused(table, uid)
            _toggle_pause(other, uid)
            moved, cpu_moved = time.perf_counter(), time.process_time()
            while _shows_paused(table, uid) == was:
                await asyncio.sleep(0.001)
            painted = asyncio.Event()  # the cell changed: wait for the refresh that shows it
            app.screen.call_after_refresh(painted.set)
            await painted.wait()
            found.append(time.perf_counter() - moved)
            cpu.append(time.process_time() - cpu_moved)
            await asyncio.sleep(0.02 + (n % 5) * 0.017)  # moves land anywhere in a poll cycle
    return found, cpu


def _on_screen(table: DataTable[object], project: Project) -> list[str]:
    """The runs in the table's first rows (on screen at 120x40) that are not completed."""
    open_runs = {s.run.uid for s in project.view().runs() if s.run.status.value != "completed"}
    keys = [table.coordinate_to_cell_key((row, 0)).row_key.value
            for row in range(min(30, table.row_count))]
    return [key for key in keys if key in open_runs]


def _shows_paused(table: DataTable[object], uid: str) -> bool:
    return "(paused)" in str(table.get_cell(uid, "status"))


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


def worker_idle_rss(repo: Path, jobs: int = 4, settle_s: float = 6.0) -> list[int]:
    """KiB of RSS of `dflow worker -j N` and each of its worker processes, once idle."""
    proc = subprocess.Popen([str(BIN / "dflow"), "worker", "-j", str(jobs)], cwd=repo,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        time.sleep(settle_s)
        pids = [proc.pid, *_children(proc.pid)]
        return [_rss_kib(pid) for pid in pids]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # our own session: the pool and its workers
        proc.wait(timeout=60)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def status_rss(repo: Path, cold: bool = True) -> tuple[float, int]:
    """Seconds and peak RSS (KiB) of `dflow status` in a fresh process; `cold`: with no
    cache (a fresh clone), else with the cache the previous call left (the ref unmoved)."""
    if cold:
        shutil.rmtree(open_project(repo).store.data_dir / "cache", ignore_errors=True)
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); "
             "print(time.perf_counter() - t, "
             "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", probe, str(BIN / "dflow"), "status"],
                         cwd=repo, capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), int(out[1])


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--moves", type=int, default=60)
    parser.add_argument("--status-runs", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # A home of its own: the projects registry of the user's own dflow stays untouched,
        # and the console opens on the runs of the one project it is started in.
        for name in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
            os.environ[name] = str(Path(tmp) / "home" / name.lower())
        t = time.perf_counter()
        repo = make_repo(Path(tmp), args.runs)
        print(f"built {args.runs} runs in {time.perf_counter() - t:.1f}s")
        paints, complete, cpus = zip(*(asyncio.run(first_paint(repo, args.runs))
                                       for _ in range(5)), strict=True)
        moves, move_cpu = asyncio.run(ref_moves(repo, args.runs, args.moves))
        polled, _ = asyncio.run(ref_moves(repo, args.runs, args.moves, watch=False))
        reread = statistics.median(full_reread(repo) for _ in range(3))
        rss = worker_idle_rss(repo)
        big = make_repo(Path(tmp) / "big", args.status_runs)
        status_s, status_kib = status_rss(big)
        warm_s, warm_kib = status_rss(big, cold=False)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'measure':<44}{'dflow console':>16}{'target':>12}")
    print(f"{'first full paint, ' + str(args.runs) + ' runs (median of 5)':<44}"
          f"{statistics.median(paints) * 1000:>13.0f} ms{'<= 500 ms':>12}")
    print(f"{'  CPU time of the console until painted':<44}"
          f"{statistics.median(cpus) * 1000:>13.0f} ms{'-':>12}")
    print(f"{'all ' + str(args.runs) + ' rows in the table (median of 5)':<44}"
          f"{statistics.median(complete) * 1000:>13.0f} ms{'-':>12}")
    print(f"{'ref move -> updated screen, p50 (watched)':<44}"
          f"{statistics.median(moves) * 1000:>13.0f} ms{'-':>12}")
    print(f"{'ref move -> updated screen, p95 (watched)':<44}{p95(moves) * 1000:>13.0f} ms"
          f"{'<= 150 ms':>12}")
    print(f"{'  CPU time of the console, p50 / p95':<44}"
          f"{statistics.median(move_cpu) * 1000:>8.0f} /{p95(move_cpu) * 1000:>4.0f} ms{'-':>12}")
    print(f"{'  polling only (100 ms), p50 / p95':<44}{statistics.median(polled) * 1000:>8.0f} /"
          f"{p95(polled) * 1000:>4.0f} ms{'baseline':>12}")
    print(f"{'baseline: re-read every run at the new tip':<44}{reread * 1000:>13.0f} ms"
          f"{'(avoided)':>12}")
    print(f"{'dflow worker -j 4, idle RSS per process':<44}"
          f"{' / '.join(f'{k / 1024:.0f}' for k in rss):>13} MB{'stated':>12}")
    print(f"{'dflow status, ' + str(args.status_runs) + ' runs: peak RSS':<44}"
          f"{status_kib / 1024:>13.0f} MB{'<= 150 MB':>12}")
    print(f"{'  its wall time (no cache)':<44}{status_s * 1000:>13.0f} ms{'-':>12}")
    print(f"{'  again, cache warm: peak RSS / wall':<44}{warm_kib / 1024:>6.0f} MB /"
          f"{warm_s * 1000:>5.0f} ms{'-':>12}")


if __name__ == "__main__":
    main()
