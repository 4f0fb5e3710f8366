"""Worker pool throughput: 1,000 no-op jobs, 2 workers, dflow vs RQ on a real redis-server.

    .venv/bin/python benchmarks/pool.py [--jobs 1000] [--workers 2]

Setup (done here when missing): `redis-server` from apt-get, `rq` from the `bench` extra
(`pip install -e '.[bench]'`). Prints jobs/s (wall time from starting the workers until
they exit, and the busy window from the first claim to the last finish), the ratio to each
RQ worker class, and the p50/p95 latency from request to claim. Not a test: figures only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def noop() -> None:
    """The RQ job: does nothing, like dflow's `noop` job kind."""


@dataclass
class Result:
    name: str
    jobs: int
    wall_s: float
    busy_s: float
    latencies: list[float]

    def row(self, base: Result | None = None) -> str:
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) * 1000 if lat else float("nan")
        p95 = lat[int(0.95 * (len(lat) - 1))] * 1000 if lat else float("nan")
        wall, busy = self.jobs / self.wall_s, self.jobs / self.busy_s
        ratio = f"{(busy / (base.jobs / base.busy_s)):.2f}x" if base else ""
        return (f"{self.name:<28} {wall:>9.0f} {busy:>9.0f} {ratio:>8} "
                f"{p50:>10.0f} {p95:>10.0f}")


# --- setup ---------------------------------------------------------------------------------


def ensure_tools() -> None:
    if shutil.which("redis-server") is None:
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            sys.exit("benchmark needs redis-server: sudo apt-get install redis-server")
        print("installing redis-server with apt-get ...", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=True,
                       stdout=subprocess.DEVNULL)
    try:
        import rq  # noqa: F401
    except ImportError:
        print("installing the bench extra (rq, redis) ...", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", f"{ROOT}[bench]"],
                       check=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    client = redis.Redis.from_url(url)
    for _ in range(200):
        try:
            client.ping()
            return proc, url
        except redis.ConnectionError:
            time.sleep(0.02)
    proc.kill()
    sys.exit("redis-server did not start")


# --- RQ ------------------------------------------------------------------------------------


def bench_rq(url: str, jobs: int, workers: int, worker_class: str, name: str) -> Result:
    import redis
    from rq import Queue
    from rq.job import Job

    conn = redis.Redis.from_url(url)
    conn.flushdb()
    queue = Queue("bench", connection=conn)
    ids = [queue.enqueue("pool.noop", result_ttl=600).id for _ in range(jobs)]
    path = f"{Path(__file__).parent}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    env = {**os.environ, "PYTHONPATH": path}
    rq_bin = str(Path(sys.executable).parent / "rq")
    started = time.perf_counter()
    procs = [
        subprocess.Popen([rq_bin, "worker", "--burst", "--url", url, "--worker-class",
                          worker_class, "--quiet", "bench"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(workers)
    ]
    for p in procs:
        p.wait()
    wall = time.perf_counter() - started
    done = [j for j in Job.fetch_many(ids, connection=conn) if j is not None]
    ok = [j for j in done if j.get_status() == "finished"]
    if len(ok) != jobs:
        sys.exit(f"{name}: only {len(ok)} of {jobs} jobs finished")
    first = min(j.started_at for j in ok)
    last = max(j.ended_at for j in ok)
    lat = [(j.started_at - j.enqueued_at).total_seconds() for j in ok]
    return Result(name, jobs, wall, (last - first).total_seconds(), lat)


# --- dflow ---------------------------------------------------------------------------------


def bench_dflow(workdir: Path, jobs: int, workers: int) -> Result:
    from deksdenflow.domain.eventlog.events import EventType
    from deksdenflow.domain.eventlog.fold import job_id
    from deksdenflow.domain.runs.models import JobKind
    from deksdenflow.jobs import queue
    from deksdenflow.wiring import init_project

    repo = workdir / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@b",
                    "commit", "-q", "--allow-empty", "-m", "init"], check=True)
    project, _ = init_project(repo, engine="demo")
    project.store.transact(
        lambda tx: [queue.request(tx, JobKind.NOOP, run=None) for _ in range(jobs)])
    dflow = str(Path(sys.executable).parent / "dflow")
    started = time.perf_counter()
    subprocess.run([dflow, "worker", "-j", str(workers), "--burst"], cwd=repo, check=True,
                   env={**os.environ, "CI": "true"}, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    events = project.view().root_events()
    at: dict[EventType, dict[str, datetime]] = {t: {} for t in EventType}
    for e in events:
        at[e.type][job_id(e)] = e.at
    requested, claimed = at[EventType.JOB_REQUESTED], at[EventType.JOB_CLAIMED]
    finished = at[EventType.JOB_FINISHED]
    if len(finished) != jobs:
        sys.exit(f"dflow: only {len(finished)} of {jobs} jobs finished")
    busy = (max(finished.values()) - min(claimed.values())).total_seconds()
    lat = [(claimed[j] - requested[j]).total_seconds() for j in finished]
    return Result(f"dflow worker -j {workers}", jobs, wall, busy, lat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    ensure_tools()
    with tempfile.TemporaryDirectory(prefix="dflow-bench-") as tmp:
        workdir = Path(tmp)
        redis_proc, url = start_redis(workdir)
        try:
            rq_fork = bench_rq(url, args.jobs, args.workers, "rq.worker.Worker",
                               f"RQ Worker x{args.workers}")
            rq_simple = bench_rq(url, args.jobs, args.workers, "rq.worker.SimpleWorker",
                                 f"RQ SimpleWorker x{args.workers}")
        finally:
            redis_proc.terminate()
            redis_proc.wait()
        dflow = bench_dflow(workdir, args.jobs, args.workers)
    print(f"\n{args.jobs} no-op jobs, {args.workers} workers, {os.cpu_count()} CPUs")
    print(f"{'':<28} {'wall j/s':>9} {'busy j/s':>9} {'vs RQ':>8} {'p50 ms':>10} {'p95 ms':>10}")
    print("  (wall: workers started -> exited; busy: first claim -> last finish;")
    print("   latency: request -> claim; 'vs RQ' compares busy j/s)")
    print(rq_fork.row())
    print(rq_simple.row())
    print(dflow.row(rq_fork) + "  vs RQ Worker")
    print(dflow.row(rq_simple) + "  vs RQ SimpleWorker")


if __name__ == "__main__":
    main()
