"""The state store: one mutation, and `dflow status --json` over a big ref. Figures, not a test.

    .venv/bin/python benchmarks/store.py [--samples 200] [--reps 7] [--quick]

1. Latency of one mutation (a step event on an existing run: started / failed in turn: lock,
   read the tip, fold, one pack of 3 blobs + 6 trees + the commit, compare-and-swap, unlock),
   at 100 and at 10,000 events on the ref, side by side with the same mutation done through
   git CLI plumbing (target: dflow >= 10x faster, and t(10k)/t(100) <= 1.5): the same three
   blobs (event, run snapshot, meta.json; their bytes computed by
   dflow beforehand, so git is not charged for them) written with `git hash-object -w`, each of
   the six trees on the path read with `git ls-tree` and rebuilt with `git mktree`, then
   `git commit-tree` and `git update-ref REF NEW OLD` (compare-and-swap).
   The history is laid out as 60 days of use would leave it (event ids, and so the fan-out
   buckets, follow creation time); the 10,000-event case is also run with every run created
   in one burst, the worst case for the run buckets (docs/decisions/0011).
2. Wall time of `dflow status --json` on 1,000 runs / 20,000 events in a fresh process, against
   `python -c "import deksdenflow"` (fresh processes, median of --reps runs each).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from deksdenflow.domain.eventlog import ids
from deksdenflow.domain.eventlog.events import EventType
from deksdenflow.domain.eventlog.payloads import PlannedStep, RunCreated, RunPlanned, payload_of
from deksdenflow.store import STATE_REF, Store, Tx, writer
from deksdenflow.store.encoding import codec
from deksdenflow.store.encoding.layout import META_FILE, event_path, run_snapshot_path
from deksdenflow.store.sharing import trust
from deksdenflow.wiring import init_project

BIN = Path(sys.executable).parent
EVENTS_PER_RUN = 20


def make_state(root: Path, runs: int, spread_days: float = 0) -> tuple[Store, list[str]]:
    """A repository whose ref holds `runs` runs of EVENTS_PER_RUN events each, one commit per
    run: created, planned with 7 steps, steps 1-6 started, finished and passed QA (step 7 is
    left for the benchmark's mutations)."""
    repo = root / f"repo-{runs}"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    project, _ = init_project(repo, engine="demo")
    store = project.store
    uids = []
    start_ms = int((time.time() - spread_days * 86400) * 1000)
    for n in range(1, runs + 1):
        # With a spread, run n is created at start + n/runs of it, as months of real use
        # would have it (ids, and so the fan-out buckets, follow creation time).
        with _clock(start_ms + int(spread_days * 86400_000 * n / runs) if spread_days else None):
            uids.append(store.transact(lambda tx, n=n: _fill_run(tx, n)))
    _pack(repo)
    return store, uids


def _pack(repo: Path) -> None:
    """Pack everything, as `gc --auto` would have over months (waiting for one it started)."""
    for _ in range(600):
        out = subprocess.run(["git", "gc", "-q"], cwd=repo, capture_output=True, text=True)
        if out.returncode == 0:
            return
        if "already running" not in out.stderr:
            raise SystemExit(f"git gc: {out.stderr}")
        time.sleep(0.5)


@contextmanager
def _clock(at_ms: int | None) -> Iterator[None]:
    """Event ids minted at `at_ms` (+1 ms each) instead of now: the clock is the one thing
    a benchmark may fake, and only to lay out history that took months to accumulate."""
    if at_ms is None:
        yield
        return
    ticks = itertools.count(at_ms)
    original = writer.new_id
    writer.new_id = lambda now_ms=None: ids.new_id(next(ticks))
    try:
        yield
    finally:
        writer.new_id = original


def _fill_run(tx: Tx, number: int) -> str:
    uid = tx.emit(RunCreated(number=number, name=f"run-{number}", task="benchmark")).run
    assert uid is not None
    steps = [PlannedStep(index=i, title=f"step {i}") for i in range(1, 8)]
    tx.emit(RunPlanned(steps=steps), run=uid)
    cycle = [EventType.STEP_STARTED, EventType.STEP_FINISHED, EventType.STEP_QA_VERDICT]
    for k in range(EVENTS_PER_RUN - 2):
        data = {"verdict": "PASS"} if cycle[k % 3] == EventType.STEP_QA_VERDICT else {}
        tx.emit(payload_of(cycle[k % 3], data), run=uid, step=k // 3 + 1)
    return uid


def _step_event(uid: str, n: int) -> Callable[[Tx], None]:
    kind = EventType.STEP_STARTED if n % 2 == 0 else EventType.STEP_FAILED
    data = {} if kind == EventType.STEP_STARTED else {"reason": "bench"}
    return lambda tx: tx.emit(payload_of(kind, data), run=uid, step=7) and None


def bench_dflow(store: Store, uid: str, samples: int, first: int = 0,
                cpu: list[float] | None = None) -> list[float]:
    """Wall time of each mutation; with `cpu`, this process's CPU time of each is appended
    to it (a loaded machine inflates the wall time far more than the CPU time)."""
    times = []
    for n in range(first, first + samples):
        start, start_cpu = time.perf_counter(), time.process_time()
        store.transact(_step_event(uid, n))
        times.append(time.perf_counter() - start)
        if cpu is not None:
            cpu.append(time.process_time() - start_cpu)
    return times


def bench_git_cli(store: Store, uid: str, samples: int, first: int = 0) -> list[float]:
    repo = Path(store.repo.workdir or store.git_dir)
    times = []
    for n in range(first, first + samples):
        files = _mutation_files(store, uid, n)  # dflow's work, not timed
        start = time.perf_counter()
        _git_cli_mutation(repo, files)
        times.append(time.perf_counter() - start)
        # The plumbing stands in for dflow's own write, so record its tip as dflow's (not
        # timed); otherwise the next read refuses it as a foreign commit (store/sharing/trust.py).
        trust.remember(store.data_dir, _git(repo, "rev-parse", STATE_REF))
    return times


def _mutation_files(store: Store, uid: str, n: int) -> dict[str, bytes]:
    """The exact blobs a dflow mutation writes, computed with dflow's own code."""
    view = store.read()
    tx = Tx(view, store.actor)
    _step_event(uid, n)(tx)
    event = tx.events[0]
    return {event_path(uid, event.id): codec.dump(event),
            run_snapshot_path(uid): codec.dump(tx.run(uid)),
            META_FILE: codec.dump_meta(tx.clock)}


def _git_cli_mutation(repo: Path, files: dict[str, bytes]) -> None:
    old = _git(repo, "rev-parse", STATE_REF)
    blobs: dict[str, str] = {}
    for path, data in files.items():
        blobs[path] = _git(repo, "hash-object", "-w", "--stdin", stdin=data)
    # Rebuild every tree on the deepest path (the event's), then its siblings' parents.
    changed = {path: blob for path, blob in blobs.items()}
    tree = _rebuild(repo, old, "", changed)
    commit = _git(repo, "commit-tree", tree, "-p", old, "-m", "cli mutation")
    _git(repo, "update-ref", STATE_REF, commit, old)


def _rebuild(repo: Path, tip: str, prefix: str, changed: dict[str, str]) -> str:
    """mktree for `prefix` after applying `changed` (paths below it), recursing per level."""
    listing = _git(repo, "ls-tree", f"{tip}:{prefix}" if prefix else f"{tip}^{{tree}}",
                   check=False)
    entries: dict[str, str] = {}
    for line in listing.splitlines():
        meta, name = line.split("\t", 1)
        entries[name] = meta
    children: dict[str, dict[str, str]] = {}
    for path, blob in changed.items():
        head, _, rest = path.partition("/")
        if rest:
            children.setdefault(head, {})[rest] = blob
        else:
            entries[head] = f"100644 blob {blob}"
    for name, sub in children.items():
        sub_tree = _rebuild(repo, tip, f"{prefix}{name}/" if prefix else f"{name}/", sub)
        entries[name] = f"040000 tree {sub_tree}"
    text = "".join(f"{meta}\t{name}\n" for name, meta in sorted(entries.items()))
    return _git(repo, "mktree", stdin=text.encode())


def _git(repo: Path, *args: str, stdin: bytes | None = None, check: bool = True) -> str:
    out = subprocess.run(["git", *args], cwd=repo, input=stdin, capture_output=True)
    if check and out.returncode != 0:
        raise SystemExit(f"git {' '.join(args)}: {out.stderr.decode()}")
    return out.stdout.decode().strip()


def fresh_process(cmd: list[str], cwd: Path, reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="smaller state, for a smoke run")
    args = parser.parse_args()
    os.environ.setdefault("DFLOW_ACTOR", "bench@localhost")
    big_runs = 50 if args.quick else 500
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="dflow-bench-") as tmp:
        root = Path(tmp)
        print(f"one mutation (step event on an existing run), {args.samples} samples, ms")
        print(f"{'events on the ref':<20} {'dflow p50':>10} {'dflow p95':>10} "
              f"{'git CLI p50':>12} {'git CLI p95':>12} {'speed-up':>9}   dflow CPU p50")
        cases = [(5, 60.0), (big_runs, 60.0), (big_runs, 0.0)]
        states = {case: make_state(root / f"{case[0]}-{case[1]}", *case) for case in cases}
        ours: dict[tuple[int, float], list[float]] = {case: [] for case in cases}
        ours_cpu: dict[tuple[int, float], list[float]] = {case: [] for case in cases}
        theirs: dict[tuple[int, float], list[float]] = {case: [] for case in cases}
        counters = {case: 0 for case in cases}
        for store, uids in states.values():
            bench_dflow(store, uids[len(uids) // 2], 20)  # warm-up
        # Interleave the cases in rounds, so that the load of a shared machine falls on all of
        # them alike instead of on whichever ran during a busy minute.
        rounds = 10
        for _ in range(rounds):
            for case, (store, uids) in states.items():
                uid = uids[len(uids) // 2]
                n = counters[case]
                ours[case] += bench_dflow(store, uid, args.samples // rounds, first=n,
                                          cpu=ours_cpu[case])
                theirs[case] += bench_git_cli(store, uid, max(2, args.samples // rounds // 4),
                                              first=n + args.samples // rounds)
                counters[case] = n + args.samples // rounds + max(2, args.samples // rounds // 4)
        medians = {}
        for case in cases:
            runs, spread = case
            medians[case] = statistics.median(ours[case])
            mine, git = ours[case], theirs[case]
            label = f"{runs * EVENTS_PER_RUN}" + (f", {spread:.0f} days" if spread else ", burst")
            print(f"{label:<20} {statistics.median(mine) * 1e3:>10.2f} {p95(mine) * 1e3:>10.2f} "
                  f"{statistics.median(git) * 1e3:>12.2f} {p95(git) * 1e3:>12.2f} "
                  f"{statistics.median(git) / statistics.median(mine):>8.1f}x  (target >= 10x)"
                  f"  {statistics.median(ours_cpu[case]) * 1e3:.2f}")
        for spread in (60.0, 0.0):
            flat = medians[big_runs, spread] / medians[5, 60.0]
            how = "history over 60 days" if spread else "all runs created in one burst"
            print(f"t({big_runs * EVENTS_PER_RUN})/t({5 * EVENTS_PER_RUN}) = {flat:.2f}"
                  f"  (target <= 1.5; {how})")

        print(f"load average {os.getloadavg()[0]:.1f} (at the start: {load_at_start:.1f}) "
              f"on {os.cpu_count()} CPUs")
        status_runs = 100 if args.quick else 1000
        store, _ = make_state(root / "status", status_runs, 60.0)
        repo = Path(store.repo.workdir or store.git_dir)
        python = str(BIN / "python")
        bare = fresh_process([python, "-c", "import deksdenflow"], repo, args.reps)
        startup = fresh_process([python, "-c", "pass"], repo, args.reps)
        cold_status = _time_once([str(BIN / "dflow"), "status", "--json"], repo)
        status = fresh_process([str(BIN / "dflow"), "status", "--json"], repo, args.reps)
        events = status_runs * EVENTS_PER_RUN
        print(f"\n`dflow status --json`, {status_runs} runs / {events} events, fresh process, "
              f"median of {args.reps}, ms")
        print(f"{'python -c pass':<36} {startup * 1e3:>8.1f}")
        label = 'python -c "import deksdenflow"'
        print(f"{label:<36} {bare * 1e3:>8.1f}")
        print(f"{'dflow status --json (first, cold)':<36} {cold_status * 1e3:>8.1f}")
        print(f"{'dflow status --json':<36} {status * 1e3:>8.1f}   "
              f"= {status / bare:.2f}x the bare import (target <= 2x)")


def _time_once(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
