"""Team benchmark: 3 clones on one bare remote, 30 demo runs, remote workers on 2 of them.

Each clone has its own folder and its own HOME, git config, XDG and dflow config dirs, and
every command is the real `dflow` CLI in its own process. The runs are made in turn by the
three clones (`dflow new`, the implicit sync shares them); then `dflow worker --remote origin
--burst` runs in clones 2 and 3 at once, in rounds, until no job is open or a round changes
nothing; then each clone lands the runs it made (`dflow land`) and the remote's main is
checked for every run's files. Every `git push` of the workers goes through a wrapper on
their PATH that logs it with its exit status, so pushes and refused pushes are counted from
outside dflow.

Printed: jobs per second (jobs finished / the workers' wall time), pushes and refused pushes
per job (state, claim refs, other refs), and the checks: nothing done twice (each job claimed
once and each step started once, over the union of every clone's events), every run ready to
land, landed from its maker and with all its files on the remote's main. A check that fails is
said in one line per run ("run 0003-t02 landed without its files: demo_t02.py, ...") and the
exit status is 1; the figures are printed either way.

    .venv/bin/python benchmarks/team.py [--runs 30] [--rounds 6] [--keep] [--all]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
DFLOW = str(BIN / "dflow")
REAL_GIT = shutil.which("git") or "git"
WRAPPER = """#!/bin/sh
"$BENCH_REAL_GIT" "$@"
rc=$?
case " $* " in *" push "*) printf '%s\\t%s\\n' "$rc" "$*" >> "$BENCH_GITLOG";; esac
exit $rc
"""
SHOWN = 5  # failures of one kind printed (the count says how many more)
CREATED = re.compile(r"^created (\d{4}-[a-z0-9-]+)", re.M)


@dataclass
class Clone:
    name: str
    path: Path
    env: dict[str, str]
    made: list[str] = field(default_factory=list)

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        done = subprocess.run([DFLOW, *args], cwd=self.path, env=self.env, text=True,
                              capture_output=True, timeout=timeout)
        if check and done.returncode != 0:
            raise SystemExit(f"{self.name}: dflow {' '.join(args)}: exit {done.returncode}: "
                             f"{done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def git(self, *args: str) -> str:
        return subprocess.run([REAL_GIT, *args], cwd=self.path, env=self.env, text=True,
                              capture_output=True, check=True).stdout.strip()


def git(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    return subprocess.run([REAL_GIT, *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def user_env(root: Path, name: str, wrapper_dir: Path) -> dict[str, str]:
    """A user of its own: HOME, git identity, dflow's config, registry and data dirs."""
    home = root / f"home-{name}"
    home.mkdir(parents=True)
    (home / ".gitconfig").write_text(
        f"[user]\n\tname = {name}\n\temail = {name}@bench\n[init]\n\tdefaultBranch = main\n"
        "[protocol \"file\"]\n\tallow = always\n")
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("DFLOW_", "GIT_", "XDG_", "GITHUB_", "GITLAB_", "CI"))}
    return {**keep, "HOME": str(home), "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
            "GIT_CONFIG_NOSYSTEM": "1", "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".data"), "DFLOW_CONFIG_FILE": str(home / "dflow.toml"),
            "DFLOW_ACTOR": f"{name}@bench", "CI": "true",
            "PATH": f"{wrapper_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "BENCH_REAL_GIT": REAL_GIT, "BENCH_GITLOG": str(root / f"pushes-{name}.log")}


def make_remote(root: Path) -> Path:
    bare = root / "remote.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=root)
    seed = root / "seed"
    git("init", "-q", "-b", "main", str(seed), cwd=root)
    (seed / "README.md").write_text("# team bench\n")
    # Every demo run appends a README section: let the merges of 30 runs keep them all.
    (seed / ".gitattributes").write_text("README.md merge=union\n")
    git("add", "-A", cwd=seed)
    git("-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "init", cwd=seed)
    git("push", "-q", str(bare), "main", cwd=seed)
    return bare


def make_clones(root: Path, bare: Path) -> list[Clone]:
    wrappers = root / "bin"
    wrappers.mkdir()
    (wrappers / "git").write_text(WRAPPER)
    (wrappers / "git").chmod(0o755)
    clones = []
    for i in (1, 2, 3):
        name = f"c{i}"
        env = user_env(root, name, wrappers)
        path = root / name / "repo"  # a folder of its own per clone
        path.parent.mkdir()
        git("clone", "-q", bare.as_uri(), str(path), cwd=path.parent, env=env)
        clone = Clone(name, path, env)
        clone.run("init", "--engine", "demo", "--yes") if i == 1 else clone.run("init", "--yes")
        clones.append(clone)
    return clones


def work(workers: list[Clone], rounds: int) -> tuple[float, int]:
    """Remote workers in all `workers` at once, in rounds; (wall seconds, rounds run)."""
    elapsed, done_rounds = 0.0, 0
    for _ in range(rounds):
        started = time.perf_counter()
        procs = [subprocess.Popen([DFLOW, "worker", "--remote", "origin", "--burst"],
                                  cwd=c.path, env=c.env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for c in workers]
        outs = [p.communicate(timeout=3600)[0] for p in procs]
        elapsed += time.perf_counter() - started
        done_rounds += 1
        ran = sum(int(m) for out in outs for m in re.findall(r": (\d+) job\(s\) run", out))
        if ran == 0:
            break
    return elapsed, done_rounds


def pushes(root: Path, names: list[str]) -> dict[str, Counter[str]]:
    """Per kind of ref (state, claim, other): pushes made and pushes refused."""
    made: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for name in names:
        log = root / f"pushes-{name}.log"
        for line in log.read_text().splitlines() if log.exists() else []:
            rc, _, args = line.partition("\t")
            kind = ("claim" if "refs/deksdenflow/claims/" in args else
                    "state" if "refs/deksdenflow/state" in args else "other")
            made[kind] += 1
            refused[kind] += rc != "0"
    return {"made": made, "refused": refused}


def events(clone: Clone) -> list[dict[str, object]]:
    found = json.loads(clone.run("events", "--json"))
    return found if isinstance(found, list) else []


CLOSES_JOB = {"job.finished", "job.failed", "job.released", "job.cancelled"}
ENDS_STEP = {"step.finished", "step.failed", "step.blocked", "step.retried"}


def twice(evs: list[dict[str, object]]) -> list[str]:
    """What the union of every clone's events shows done twice at once: a job claimed while
    it was claimed, a step started while it ran (a retry after a failure is not twice)."""
    held: dict[object, bool] = {}
    running: dict[object, bool] = {}
    doubled = []
    for e in sorted(evs, key=lambda e: (e["lamport"], str(e["id"]))):  # type: ignore[arg-type]
        kind, data = e.get("type"), e.get("data") or {}
        job = data.get("job") if isinstance(data, dict) else None
        step = (e.get("run"), e.get("step"))
        if kind == "job.claimed":
            if held.get(job):
                doubled.append(f"job {job} was claimed by {data.get('worker')} while "  # type: ignore[union-attr]
                               "another worker held it")
            held[job] = True
        elif kind in CLOSES_JOB:
            held[job] = False
        elif kind == "step.started":
            if running.get(step):
                doubled.append(f"step {step[1]} of run {step[0]} started again while it ran")
            running[step] = True
        elif kind in ENDS_STEP:
            running[step] = False
    return doubled


def reasons(evs: list[dict[str, object]]) -> Counter[str]:
    """Why attempts failed, paths and ids scrubbed so that alike reasons count together."""
    found: Counter[str] = Counter()
    for e in evs:
        data = e.get("data")
        if e.get("type") == "job.failed" and isinstance(data, dict):
            text = re.sub(r"/\S+|\b[0-9a-f]{7,40}\b|\b\d{4}-t\d+\b|\bstep \d+\b", "…",
                          str(data.get("error", "")))
            found[text[:160]] += 1
    return found


def check_landed(clones: list[Clone], bare: Path) -> tuple[list[str], int]:
    """Each clone lands the runs it made; what is missing from the remote's main, per run."""
    problems, landed = [], 0
    for clone in clones:
        clone.run("sync")
        for run_id in clone.made:
            done = subprocess.run([DFLOW, "land", run_id], cwd=clone.path, env=clone.env,
                                  text=True, capture_output=True, timeout=600)
            if done.returncode != 0:
                why = (done.stderr.strip() or done.stdout.strip()).splitlines()
                problems.append(f"run {run_id} (made in {clone.name}) did not land: "
                                f"{why[-1] if why else 'exit ' + str(done.returncode)}")
                continue
            landed += 1
    main_files = set(git("ls-tree", "-r", "--name-only", "main", cwd=bare).splitlines())
    readme = git("show", "main:README.md", cwd=bare)
    for clone in clones:
        for run_id in clone.made:
            module = "demo_" + run_id.split("-", 1)[1].replace("-", "_")
            want = [f"{module}.py", f"tests/test_{module}.py"]
            missing = [f for f in want if f not in main_files]
            if f"## {module}\n" not in readme:
                missing.append(f"README.md's ## {module}")
            if missing:
                problems.append(f"run {run_id} landed without its files: {', '.join(missing)}")
    return problems, landed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=6, help="worker rounds at most")
    parser.add_argument("--keep", action="store_true", help="keep the folders, print where")
    parser.add_argument("--all", action="store_true", help="print every failure")
    args = parser.parse_args()
    if args.all:
        global SHOWN
        SHOWN = 1 << 30
    root = Path(tempfile.mkdtemp(prefix="dflow-bench-team-"))
    try:
        failures = bench(root, args.runs, args.rounds)
    finally:
        if args.keep:
            print(f"folders kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    raise SystemExit(1 if failures else 0)


def bench(root: Path, runs: int, rounds: int) -> list[str]:
    load = os.getloadavg()[0]
    bare = make_remote(root)
    clones = make_clones(root, bare)
    started = time.perf_counter()
    for i in range(runs):
        maker = clones[i % 3]
        out = maker.run("new", f"t{i:02d}", "--task", f"a greeting module number {i}")
        found = CREATED.search(out)
        if found is None:
            raise SystemExit(f"{maker.name}: dflow new printed no run id: {out}")
        maker.made.append(found.group(1))
    made_s = time.perf_counter() - started
    workers = clones[1:]
    for log in root.glob("pushes-*.log"):
        log.unlink()  # count the workers' pushes only
    elapsed, rounds_run = work(workers, rounds)
    counted = pushes(root, [c.name for c in workers])
    for clone in clones * 2:
        clone.run("sync")
    evs = events(clones[0])
    finished = sum(1 for e in evs if e.get("type") == "job.finished")
    failed = [e for e in evs if e.get("type") == "job.failed"]
    status = json.loads(clones[0].run("status", "--json"))["runs"]
    not_ready = [f"run {r['id']} is {r.get('stage')}, not ready to land"
                 + (f" ({r['waiting']})" if r.get("waiting") else "")
                 for r in status if r.get("stage") != "ready to land"]
    doubled = twice(evs)
    problems, landed = check_landed(clones, bare)
    per_job = max(finished, 1)
    print(f"team benchmark: 3 clones, {runs} demo runs ({made_s:.1f} s to create), remote "
          f"workers in {', '.join(c.name for c in workers)}; load {load:.1f} -> "
          f"{os.getloadavg()[0]:.1f}")
    print(f"  jobs finished            {finished:6d} in {elapsed:6.1f} s over {rounds_run} "
          f"round(s): {finished / elapsed if elapsed else 0:6.2f} jobs/s")
    print(f"  job attempts failed      {len(failed):6d}")
    for why, count in reasons(evs).most_common(3):
        print(f"    {count:4d} x {why}")
    for kind in ("state", "claim", "other"):
        made, refused = counted["made"][kind], counted["refused"][kind]
        print(f"  {kind + ' pushes':<24} {made:6d} ({made / per_job:5.2f}/job), refused "
              f"{refused:5d} ({refused / per_job:5.2f}/job)")
    print(f"  landed                   {landed:6d} of {runs}")
    failures = [*doubled, *not_ready, *problems]
    print(f"  nothing done twice       {'yes' if not doubled else 'NO'}")
    for group in (doubled, not_ready, problems):
        for line in group[:SHOWN]:
            print(f"  FAIL {line[:300]}")
        if len(group) > SHOWN:
            print(f"  FAIL ... and {len(group) - SHOWN} more like these (--all shows them)")
    if not failures:
        print("  every run done once, ready, landed from its maker with all its files")
    return failures


if __name__ == "__main__":
    main()
