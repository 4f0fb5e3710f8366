"""`dflow metrics` and `dflow report` on 1,000 runs / 20,000 events. Figures, not a test.

    .venv/bin/python benchmarks/metrics.py [--runs 1000] [--reps 7]

The state is built as benchmarks/store.py builds it (20 events per run, history over 60 days,
packed). Each command is timed in-process through the CLI runner (a fresh project handle and
pygit2 repository per call: what the command itself costs, without the interpreter and CLI
import) and in a fresh process (what a user or a scraper waits for). Target: <= 300 ms each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from store import BIN, EVENTS_PER_RUN, fresh_process, make_state  # noqa: E402

from deksdenflow.cli.app import app  # noqa: E402

COMMANDS = (["metrics"], ["report", "--json"], ["report", "--by", "engine"])


def in_process(args: list[str], repo: Path, reps: int) -> tuple[float, float]:
    """Median wall time and median CPU time of the command in this process (the CPU time
    does not depend on how busy a shared machine is)."""
    runner = CliRunner()
    os.chdir(repo)
    walls, cpus = [], []
    for _ in range(reps + 1):  # the first call warms the lazy imports; not counted
        start, cpu = time.perf_counter(), time.process_time()
        result = runner.invoke(app, args, catch_exceptions=False)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
        assert result.exit_code == 0, result.output
    return statistics.median(walls[1:]), statistics.median(cpus[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("DFLOW_ACTOR", "bench@localhost")
    os.environ["NO_COLOR"] = "1"
    with tempfile.TemporaryDirectory(prefix="dflow-bench-") as tmp:
        store, _ = make_state(Path(tmp), args.runs, 60.0)
        repo = Path(store.repo.workdir or store.git_dir)
        print(f"{args.runs} runs / {args.runs * EVENTS_PER_RUN} events, median of {args.reps}, "
              f"load average {os.getloadavg()[0]:.1f}; ms")
        print(f"{'command':<32} {'in-process':>11} {'its CPU':>8} {'fresh process':>14}   target")
        bare = fresh_process([str(BIN / "python"), "-c", "import deksdenflow.cli.app"], repo,
                             args.reps)
        for cmd in COMMANDS:
            inside, cpu = in_process(cmd, repo, args.reps)
            fresh = fresh_process([str(BIN / "dflow"), *cmd], repo, args.reps)
            label = "dflow " + " ".join(cmd)
            print(f"{label:<32} {inside * 1e3:>11.1f} {cpu * 1e3:>8.1f} {fresh * 1e3:>14.1f}"
                  "   <= 300")
        print(f"{'(python -c import the CLI)':<32} {'':>11} {'':>8} {bare * 1e3:>14.1f}")


if __name__ == "__main__":
    main()
