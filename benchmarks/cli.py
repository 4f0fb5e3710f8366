"""Start-up and read/control command latency, fresh processes, against `python -c pass`.

    .venv/bin/python benchmarks/cli.py [--runs 1000] [--reps 7]

A ref of --runs runs × 20 events (as benchmarks/store.py lays out 60 days of use) is built
once. Every read command is then timed in a fresh process **right after the ref moved**: before
each repetition the benchmark appends one event with the store, so no cache keyed by the tip
can answer. Control commands change the ref themselves. Each figure is the median of --reps
repetitions, printed beside the interpreter's own start-up and the issue's targets.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store import EVENTS_PER_RUN, make_state  # noqa: E402  (benchmarks/store.py)

from deksdenflow.domain.payloads import RunNote
from deksdenflow.store import Store  # noqa: E402

BIN = Path(sys.executable).parent


def _move_ref(store: Store, uid: str) -> Callable[[], None]:
    def move() -> None:
        store.transact(lambda tx: tx.emit(RunNote(text="bench"), run=uid) and None)
    return move


def timed(cmd: list[str], cwd: Path, reps: int, before: Callable[[], None] | None = None,
          check: bool = True) -> float:
    times = []
    for _ in range(reps):
        if before is not None:
            before()
        start = time.perf_counter()
        out = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - start)
        if check and out.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)}: exit {out.returncode}: {out.stderr.decode()}")
    return statistics.median(times)


def _load() -> str:
    try:
        one, _, _ = os.getloadavg()
        return f"{one:.2f}"
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("DFLOW_ACTOR", "bench@localhost")
    os.environ["DFLOW_SYNC"] = os.environ.get("DFLOW_SYNC", "off")
    dflow = str(BIN / "dflow")
    with tempfile.TemporaryDirectory(prefix="dflow-bench-cli-") as tmp:
        store, uids = make_state(Path(tmp), args.runs, 60.0)
        repo = Path(store.repo.workdir or store.git_dir)
        uid = uids[len(uids) // 2]
        number = f"{len(uids) // 2 + 1:04d}"
        move = _move_ref(store, uid)
        base = timed([sys.executable, "-c", "pass"], repo, args.reps)
        rows: list[tuple[str, float, str]] = []

        def row(label: str, argv: list[str], target_ms: float | None, ratio: float | None,
                moved: bool = True, check: bool = True) -> None:
            t = timed([dflow, *argv], repo, args.reps, move if moved else None, check)
            parts = []
            if target_ms is not None:
                parts.append(f"<= {target_ms:.0f} ms " + ("met" if t * 1e3 <= target_ms
                                                          else "NOT met"))
            if ratio is not None:
                parts.append(f"<= {ratio:.0f}x " + ("met" if t / base <= ratio else "NOT met"))
            rows.append((label, t, "; ".join(parts)))

        row("dflow --version", ["--version"], None, 3, moved=False)
        row("dflow --help", ["--help"], None, 3, moved=False)
        row("dflow status", ["status"], 150, 10)
        row("dflow status --json", ["status", "--json"], 150, 10)
        row("dflow show RUN", ["show", number], 150, 10)
        row("dflow events --limit 20", ["events", "--limit", "20"], 150, 10)
        row("dflow project show", ["project", "show"], 150, 10)
        row("dflow workers", ["workers"], 150, 10)
        # Controls move the ref themselves; pause and resume alternate so each is legal.
        pause_t = resume_t = 0.0
        pauses, resumes = [], []
        for _ in range(args.reps):
            pauses.append(timed([dflow, "pause", number], repo, 1))
            resumes.append(timed([dflow, "resume", number], repo, 1))
        pause_t, resume_t = statistics.median(pauses), statistics.median(resumes)
        for label, t in (("dflow pause RUN", pause_t), ("dflow resume RUN", resume_t)):
            rows.append((label, t, "<= 200 ms " + ("met" if t * 1e3 <= 200 else "NOT met")))
        news = []
        for k in range(args.reps):
            news.append(timed([dflow, "new", f"bench-{k}", "--task", "t", "--no-plan"], repo, 1))
        t = statistics.median(news)
        rows.append(("dflow new --no-plan", t, "<= 200 ms " + ("met" if t * 1e3 <= 200
                                                               else "NOT met")))
        events = args.runs * EVENTS_PER_RUN
        print(f"fresh processes, {args.runs} runs / {events} events, median of {args.reps}, "
              f"load {_load()}")
        print(f"{'python -c pass':<28} {base * 1e3:>8.1f} ms")
        print(f"{'command':<28} {'ms':>8} {'x pass':>8}  target")
        for label, t, verdict in rows:
            print(f"{label:<28} {t * 1e3:>8.1f} {t / base:>8.1f}  {verdict}")


if __name__ == "__main__":
    main()
