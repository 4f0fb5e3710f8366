"""Parallel steps: 8 independent steps, a fixed-duration fake agent, `dflow worker -j N`.
Figures, not a test.

    .venv/bin/python benchmarks/dag.py [--steps 8] [--delay 1.0] [--jobs 1,2,4]

The agent is the demo engine with `delay_s` (every call — plan, execute, QA — takes that
long, then writes its step's own file). For each -j: the wall time of
`dflow worker -j N --burst` from start to exit, against the serial sum of the agents' time
(steps x (execute + QA) x delay, plus the plan), the speed-up that gives, and the integration
overhead per step (an `integrate` job's claim to its close, from the events).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog import fold
from deksdenflow.domain.eventlog.payloads import JobRequested
from deksdenflow.wiring import init_project
from deksdenflow.workflow.lifecycle import controls, runs

DFLOW = Path(sys.executable).with_name("dflow")


def plan(steps: int) -> str:
    files = [{"path": n, "content": f"# {n}\n"} for n in ("plan.md", "context.md", "log.md")]
    entries = []
    for i in range(1, steps + 1):
        name = f"{i:02d}-part.md"
        files.append({"path": name, "content": f"<!-- dflow-demo: line part-{i:02d}.txt -->\n"})
        entries.append({"index": i, "type": "work", "title": f"part {i}", "file": name,
                        "depends_on": []})
    return json.dumps({"summary": "independent parts", "files": files, "steps": entries})


def setup(root: Path, steps: int, delay: float) -> Project:
    repo = root / "repo"
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    (repo / "README.md").write_text("# bench\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "i"],
                   cwd=repo, check=True)
    project, _ = init_project(repo, engine="demo")
    options = f"{{delay_s = {delay}, plan_reply = {json.dumps(plan(steps))}}}"
    values = {"plan.parallel": "true", "engines.demo.options": options,
              "limits.max_parallel_steps": str(steps)}
    project.set_settings(values, kinds=())
    runs.create_run(project, "bench", "eight independent parts")
    return project


def measure(jobs: int, steps: int, delay: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="dflow-dag-") as tmp:
        project = setup(Path(tmp), steps, delay)
        started = time.monotonic()
        subprocess.run([str(DFLOW), "worker", "-j", str(jobs), "--burst"], cwd=project.root,
                       check=True, capture_output=True)
        wall = time.monotonic() - started
        snap = controls.show(project, "1")
        assert snap.run.status == "completed", snap.run.status
        events = project.view().run_events(project.view().find_run("1").run.uid)
    first = next(e.at for e in events if e.type.value == "job.claimed")
    return {"wall": wall, "work": (events[-1].at - first).total_seconds(),
            "integrate": statistics.mean(_integrations(events))}


def _integrations(events: list[Any]) -> list[float]:
    kinds: dict[str, str] = {}
    claimed: dict[str, datetime] = {}
    spans = []
    for e in events:
        job = fold.job_id(e)
        if isinstance(e.data, JobRequested):
            kinds[job] = e.data.kind.value
        elif e.type.value == "job.claimed" and kinds.get(job) == "integrate":
            claimed[job] = e.at
        elif e.type.value == "job.finished" and job in claimed:
            spans.append((e.at - claimed[job]).total_seconds())
    return spans


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--jobs", default="1,2,4")
    args = parser.parse_args()
    serial = (2 * args.steps + 1) * args.delay
    print(f"{args.steps} independent steps, agent {args.delay:g}s per call; serial sum of "
          f"agent time {serial:.1f}s (plan + {args.steps} x (execute + QA))")
    print("work s: first claim to the run's last event; wall s: the whole `dflow worker` "
          "(process start-up included)")
    print(f"{'-j':>3} {'work s':>7} {'speed-up':>9} {'ideal':>6} {'integrate s/step':>17} "
          f"{'wall s':>7}")
    for jobs in (int(j) for j in args.jobs.split(",")):
        got = measure(jobs, args.steps, args.delay)
        ideal = serial / (args.delay + 2 * args.steps * args.delay / jobs)
        print(f"{jobs:>3} {got['work']:>7.1f} {serial / got['work']:>8.2f}x {ideal:>5.2f}x "
              f"{got['integrate']:>17.3f} {got['wall']:>7.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
