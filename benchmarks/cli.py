"""Start-up and read/control command latency, fresh processes, against `python -c pass`.

    .venv/bin/python benchmarks/cli.py [--runs 1000] [--reps 7]

A ref of --runs runs × 20 events (as benchmarks/store.py lays out 60 days of use) is built
once. Every read command is then timed in a fresh process **right after the ref moved**: before
each repetition the benchmark appends one event to one run through the composition root, as a
dflow command does, so no cache keyed by the tip can answer (the per-run status lines of the
runs that did not change stay valid, as they would for a user, decision 1301; the writer hands
the changed run's new line over, decision 1304). `status (no hand-over)` moves the ref through
a bare store instead, as a sync merge or another tool does: the changed line is computed.
`status (cold)` also deletes the git dir's cache first: what a fresh clone, or a changed
project.toml, pays. Control commands change the ref
themselves. Each figure is the median of --reps repetitions, printed beside the interpreter's
own start-up, the CPU time of the command (which a loaded machine inflates less than wall
time) and the issue's targets; the load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
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
from deksdenflow.store import Store, open_store  # noqa: E402
from deksdenflow.wiring import Wiring  # noqa: E402

BIN = Path(sys.executable).parent


def _move_ref(store: Store, uid: str) -> Callable[[], None]:
    def move() -> None:
        store.transact(lambda tx: tx.emit(RunNote(text="bench"), run=uid) and None)
    return move


def _movers(repo: Path, uid: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """(a move as a dflow command makes it: through the composition root, whose published
    hook hands the changed run's status line over (decision 1304); a move that hands nothing
    over, as a `dflow sync` merge or another tool's commit: a bare store, no hook)."""
    return (_move_ref(Wiring().open_project(repo).store, uid),
            _move_ref(open_store(repo), uid))


CPU: dict[str, float] = {}  # label -> median CPU seconds of the command's process


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cwd: Path, reps: int, before: Callable[[], None] | None = None,
          check: bool = True, label: str = "") -> float:
    times, cpu = [], []
    for _ in range(reps):
        if before is not None:
            before()
        start, start_cpu = time.perf_counter(), _children_cpu()
        out = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - start)
        cpu.append(_children_cpu() - start_cpu)
        if check and out.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)}: exit {out.returncode}: {out.stderr.decode()}")
    CPU[label or " ".join(cmd)] = statistics.median(cpu)
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
    # An installed dflow has its bytecode compiled (pip compiles on install). Without this a
    # PYTHONDONTWRITEBYTECODE in the developer's environment would make every timed process
    # compile each dflow module it imports again (~30 ms for `dflow status`).
    import deksdenflow

    subprocess.run([sys.executable, "-m", "compileall", "-q",
                    str(Path(deksdenflow.__file__).parent)], check=True,
                   stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory(prefix="dflow-bench-cli-") as tmp:
        store, uids = make_state(Path(tmp), args.runs, 60.0)
        repo = Path(store.repo.workdir or store.git_dir)
        uid = uids[len(uids) // 2]
        number = f"{len(uids) // 2 + 1:04d}"
        move, move_unhanded = _movers(repo, uid)
        # A listing was kept before, as for anyone who has run `dflow status` once.
        subprocess.run([dflow, "status"], cwd=repo, stdout=subprocess.DEVNULL, check=True)
        load_at_start = _load()
        base = timed([sys.executable, "-c", "pass"], repo, args.reps, label="pass")
        rows: list[tuple[str, float, str]] = []

        def verdict(t: float, target_ms: float | None, ratio: float | None) -> str:
            parts = []
            if target_ms is not None:
                parts.append(f"<= {target_ms:.0f} ms " + ("met" if t * 1e3 <= target_ms
                                                          else "NOT met"))
            if ratio is not None:
                parts.append(f"<= {ratio:.0f}x " + ("met" if t / base <= ratio else "NOT met"))
            return "; ".join(parts)

        def row(label: str, argv: list[str], target_ms: float | None, ratio: float | None,
                before: Callable[[], None] | None = move, check: bool = True) -> None:
            t = timed([dflow, *argv], repo, args.reps, before, check, label)
            rows.append((label, t, verdict(t, target_ms, ratio)))

        def cold() -> None:
            move()
            shutil.rmtree(repo / ".git" / "deksdenflow" / "cache", ignore_errors=True)

        row("dflow --version", ["--version"], None, 3, before=None)
        row("dflow --help", ["--help"], None, 3, before=None)
        row("dflow status", ["status"], 150, 10)
        row("dflow status --json", ["status", "--json"], 150, 10)
        row("dflow status (no hand-over)", ["status"], 150, 10, before=move_unhanded)
        row("dflow status (cold)", ["status"], 150, 10, before=cold)
        row("dflow show RUN", ["show", number], 150, 10)
        row("dflow events --limit 20", ["events", "--limit", "20"], 150, 10)
        row("dflow project show", ["project", "show"], 150, 10)
        row("dflow workers", ["workers"], 150, 10)
        # Controls move the ref themselves; pause and resume alternate so each is legal.
        for label, argvs in (
            ("dflow pause RUN", [["pause", number]] * args.reps),
            ("dflow resume RUN", [["resume", number]] * args.reps),
            ("dflow step approve RUN 7", [["step", "approve", str(k + 1), "7"]
                                          for k in range(args.reps)]),
            ("dflow new --no-plan", [["new", f"bench-{k}", "--task", "t", "--no-plan"]
                                     for k in range(args.reps)]),
        ):
            times, cpus = [], []
            for k, argv in enumerate(argvs):
                if label == "dflow pause RUN" and k:  # resume in between, untimed
                    timed([dflow, "resume", number], repo, 1, label="-")
                if label == "dflow resume RUN" and k:  # paused by the loop above at first
                    timed([dflow, "pause", number], repo, 1, label="-")
                times.append(timed([dflow, *argv], repo, 1, label=label))
                cpus.append(CPU[label])
            t = statistics.median(times)
            CPU[label] = statistics.median(cpus)
            rows.append((label, t, verdict(t, 200, None)))
        events = args.runs * EVENTS_PER_RUN
        print(f"fresh processes, {args.runs} runs / {events} events, median of {args.reps}, "
              f"load {load_at_start} at the start, {_load()} at the end")
        print(f"{'python -c pass':<28} {base * 1e3:>8.1f} ms  (cpu {CPU['pass'] * 1e3:.0f} ms)")
        print(f"{'command':<28} {'ms':>8} {'x pass':>8} {'cpu ms':>8}  target")
        for label, t, verdict_text in rows:
            print(f"{label:<28} {t * 1e3:>8.1f} {t / base:>8.1f} {CPU[label] * 1e3:>8.0f}  "
                  f"{verdict_text}")


if __name__ == "__main__":
    main()
