"""Read and control command latency in fresh processes, without a remote and with one, side
by side in one run, as ratios to `python -c pass` measured in the same run.

    .venv/bin/python benchmarks/cli.py [--runs 200] [--reps 7]

One ref of --runs runs × 20 events (as benchmarks/store.py lays out 60 days of use) is built
once and copied into two clones: `local` has no remote; `remote` has a local bare remote it
syncs with, and a teammate's clone `mate` of the same remote pushes changes to it. Each
command is timed in the state the row names, prepared (untimed) before every repetition:

- unmoved: nothing changed since the last command;
- changed here: another dflow process changed a run (through the composition root, as a
  command does; with the remote it also pushes, as that command's implicit sync would);
- fetched: the teammate changed a run and pushed, and a plain `git fetch` brought it (the
  remote clone only);
- settings: project.toml changed (every run's line is computed again);
- controls change the ref themselves (pause and resume alternate, untimed in between); with
  the remote their figure includes the push.

Each figure is the median of --reps repetitions: wall time and CPU time (git's processes
included), each also as a ratio to `python -c pass` measured the same way in the same run;
the load average is printed at the start and the end. The issue's targets are judged on the
CPU ratio: on an idle machine these commands use one core the whole time (wall ≈ CPU), and on
the shared 2-core VM wall time swings 2-3× with the others' load while CPU time stays put.
Bytecode is compiled first, as an installed package has it.

Two more figures, measured in the same run: `git push` of one state commit to the bare
remote (a command's "own push"), and the import floor — a fresh interpreter that imports what
a control loads (pygit2, pydantic, the models, the settings, the composition root) and ends
without its teardown, as the controls do. The last column checks that no command is slower
with the remote than without it by more than its own pushes (`new` pushes twice: its number
claim and the state; a read none), with one `python -c pass` of tolerance for noise, in CPU
time; the fetched `status` is compared with `status` after a change here.
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

from deksdenflow.domain.eventlog.payloads import RunNote  # noqa: E402
from deksdenflow.sync import service, setup  # noqa: E402
from deksdenflow.wiring import Wiring  # noqa: E402

BIN = Path(sys.executable).parent
DFLOW = str(BIN / "dflow")
Prepare = Callable[[], None] | None


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cwd: Path, before: Prepare = None) -> tuple[float, float]:
    """(wall, CPU) seconds of one fresh process."""
    if before is not None:
        before()
    start, start_cpu = time.perf_counter(), _children_cpu()
    out = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall, cpu = time.perf_counter() - start, _children_cpu() - start_cpu
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} in {cwd}: exit {out.returncode}: "
                         f"{out.stderr.decode()}")
    return wall, cpu


def median_of(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


class Clone:
    """One clone under test: how to change a run in it as another dflow process would."""

    def __init__(self, repo: Path, remote: bool) -> None:
        self.repo, self.remote = repo, remote
        self.project = Wiring().open_project(repo)
        self.toggle = 0

    def change_run(self, uid: str) -> None:
        self.project.store.transact(lambda tx: tx.emit(RunNote(text="bench"), run=uid) and None)
        if self.remote:
            service.sync(self.project)  # that command's implicit sync pushes it

    def commit_unpushed(self, uid: str) -> str:
        """A state commit the remote lacks (what a command's push sends), not pushed."""
        self.project.store.transact(lambda tx: tx.emit(RunNote(text="push"), run=uid) and None)
        tip = self.project.store.tip()
        assert tip is not None
        return tip

    def change_settings(self) -> None:
        self.toggle += 1
        self.project.set_settings({"budget.tokens": str(1_000_000 + self.toggle)})
        if self.remote:
            service.sync(self.project)


def build(tmp: Path, runs: int) -> tuple[Clone, Clone, Clone, list[str]]:
    """(local, remote, mate, run uids): the same state in a clone without a remote and in one
    with a local bare remote, plus a teammate's clone of that remote."""
    store, uids = make_state(tmp / "state", runs, 60.0)
    source = Path(store.repo.workdir or store.git_dir)
    _git(source, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q",
         "--allow-empty", "-m", "initial")  # a base branch to push
    local, shared, bare = tmp / "local", tmp / "remote", tmp / "remote.git"
    shutil.copytree(source, local, symlinks=True)
    shutil.copytree(source, shared, symlinks=True)
    _git(tmp, "init", "-q", "--bare", "-b", "main", str(bare))
    _git(shared, "remote", "add", "origin", bare.as_uri())
    _git(shared, "push", "-q", "origin", "main")
    remote = Clone(shared, remote=True)
    setup.add_fetch_refspec(remote.project.store, "origin")
    service.sync(remote.project)
    _git(tmp, "clone", "-q", bare.as_uri(), str(tmp / "mate"))
    setup.init(Wiring(), tmp / "mate", engine="demo")
    mate = Clone(tmp / "mate", remote=True)
    for clone in (Clone(local, remote=False), remote):  # as for anyone who ran it once
        subprocess.run([DFLOW, "status"], cwd=clone.repo, stdout=subprocess.DEVNULL, check=True)
    return Clone(local, remote=False), remote, mate, uids


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("DFLOW_ACTOR", "bench@localhost")
    # An installed dflow has its bytecode compiled (pip compiles on install); without this a
    # PYTHONDONTWRITEBYTECODE in the developer's environment would make every timed process
    # compile each dflow module it imports again.
    import deksdenflow

    subprocess.run([sys.executable, "-m", "compileall", "-q",
                    str(Path(deksdenflow.__file__).parent)], check=True,
                   stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory(prefix="dflow-bench-cli-") as tmp:
        local, remote, mate, uids = build(Path(tmp), args.runs)
        report(local, remote, mate, uids, args.reps)


# What a control imports before its work (the floor of its cost while pydantic and pygit2 are
# what the store and the models are built on).
FLOOR = ("import os, deksdenflow.wiring, deksdenflow.workflow.lifecycle.controls,"
         " deksdenflow.workflow.lifecycle.runs, deksdenflow.sync.auto; os._exit(0)")
Found = tuple[float, float] | None
Row = tuple[str, float | None, Found, Found, int]  # label, target, local, remote, pushes


def report(local: Clone, remote: Clone, mate: Clone, uids: list[str], reps: int) -> None:
    uid = uids[len(uids) // 2]
    number = f"{len(uids) // 2 + 1:04d}"
    other = uids[len(uids) // 3]
    load_at_start = _load()
    base = median_of([timed([sys.executable, "-c", "pass"], local.repo)
                      for _ in range(reps)])
    rows: list[Row] = []

    def row(label: str, argv: list[str], ratio: float | None,
            prepare: Callable[[Clone], Prepare], only_remote: bool = False) -> None:
        found: list[Found] = []
        for clone in (local, remote):
            if only_remote and not clone.remote:
                found.append(None)
                continue
            found.append(median_of([timed([DFLOW, *argv], clone.repo, prepare(clone))
                                    for _ in range(reps)]))
        rows.append((label, ratio, found[0], found[1], 0))

    def fetched(clone: Clone) -> Prepare:
        def bring() -> None:
            mate.change_run(other)  # the teammate's command pushes
            _git(clone.repo, "fetch", "-q", "origin")
        return bring

    row("status, unmoved", ["status"], 6, lambda c: None)
    row("status --json, unmoved", ["status", "--json"], 6, lambda c: None)
    row("status, changed here", ["status"], 10, lambda c: lambda: c.change_run(uid))
    row("status, fetched", ["status"], 10, fetched, only_remote=True)
    row("status, settings", ["status"], 10, lambda c: c.change_settings)
    row("show RUN, changed here", ["show", number], 10, lambda c: lambda: c.change_run(uid))
    row("show RUN, unmoved", ["show", number], 10, lambda c: None)
    for label, verb, undo in (("pause RUN", "pause", "resume"),
                              ("resume RUN", "resume", "pause")):
        found = []
        for clone in (local, remote):
            if verb == "resume":
                timed([DFLOW, "pause", number], clone.repo)
            times = []
            for k in range(reps):
                if k:  # undone in between, untimed
                    timed([DFLOW, undo, number], clone.repo)
                times.append(timed([DFLOW, verb, number], clone.repo))
            if verb == "pause":
                timed([DFLOW, "resume", number], clone.repo)
            found.append(median_of(times))
        rows.append((label, 15, found[0], found[1], 1))
    found = []
    for clone in (local, remote):
        found.append(median_of([timed([DFLOW, "new", f"bench-{k}", "--task", "t",
                                       "--no-plan"], clone.repo) for k in range(reps)]))
    rows.append(("new --no-plan", 15, found[0], found[1], 2))
    # Last: the commits made to time a push leave the clone ahead of its remote, and git's
    # own housekeeping after them must not run beside the rows above.
    floor = median_of([timed([sys.executable, "-c", FLOOR], local.repo) for _ in range(reps)])
    push = median_of([
        timed(["git", "push", "-q", "origin", f"{remote.commit_unpushed(uid)}:"
               "refs/deksdenflow/state"], remote.repo) for _ in range(reps)])
    print_table(rows, Figures(base, floor, push), load_at_start, len(uids), reps)


class Figures:
    """What every row is judged against, measured in the same run."""

    def __init__(self, base: tuple[float, float], floor: tuple[float, float],
                 push: tuple[float, float]) -> None:
        self.base, self.floor, self.push = base, floor, push


def _overhead(rows: list[Row], index: int, fig: Figures) -> str:
    """Remote minus no remote (wall ms) against what the command's own pushes cost."""
    label, _, here, there, pushes = rows[index]
    if here is None and label.startswith("status, fetched"):
        here = next(r[2] for r in rows if r[0] == "status, changed here")
    if here is None or there is None:
        return ""
    extra = (there[1] - here[1]) * 1e3
    allowed = (pushes * fig.push[1] + fig.base[1]) * 1e3
    return f"{extra:>+6.0f} <= {allowed:>4.0f} {'yes' if extra <= allowed else 'NO'}"


def print_table(rows: list[Row], fig: Figures, load_at_start: str, runs: int,
                reps: int) -> None:
    base = fig.base
    print(f"fresh processes, {runs} runs / {runs * EVENTS_PER_RUN} events, median of {reps}, "
          f"load {load_at_start} at the start, {_load()} at the end")
    print(f"python -c pass: {base[0] * 1e3:.1f} ms (cpu {base[1] * 1e3:.1f} ms)")
    print(f"import floor of a control: {fig.floor[0] * 1e3:.1f} ms (cpu {fig.floor[1] * 1e3:.0f}"
          f" ms = {fig.floor[1] / base[1]:.1f}x)")
    print(f"git push of one state commit: {fig.push[0] * 1e3:.1f} ms (cpu "
          f"{fig.push[1] * 1e3:.0f} ms = {fig.push[1] / base[1]:.1f}x)")
    print(f"{'command':<24} {'target':>7} | {'no remote: ms':>13} {'x':>5} {'cpu':>5} {'x':>5} | "
          f"{'remote: ms':>10} {'x':>5} {'cpu':>5} {'x':>5}  met | cpu extra <= its pushes")

    def cells(found: Found) -> str:
        if found is None:
            return f"{'-':>13} {'-':>5} {'-':>5} {'-':>5}"
        return (f"{found[0] * 1e3:>13.1f} {found[0] / base[0]:>5.1f} {found[1] * 1e3:>5.0f} "
                f"{found[1] / base[1]:>5.1f}")

    for index, (label, ratio, here, there, _) in enumerate(rows):
        met = all(f is None or ratio is None or f[1] / base[1] <= ratio for f in (here, there))
        target = f"<= {ratio:.0f}x" if ratio is not None else ""
        print(f"{label:<24} {target:>7} | {cells(here)} | {cells(there)[3:]}  "
              f"{'yes' if met else 'NO ':<3} | {_overhead(rows, index, fig)}")


if __name__ == "__main__":
    main()
