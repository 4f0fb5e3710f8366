"""Engine overhead: what dflow adds around one agent call, next to running the same thing bare.

    .venv/bin/python benchmarks/engines.py [--calls 50]

Three pairs, each measured `--calls` times (median and p95 in milliseconds):
- command engine running `true` vs `subprocess.run(["true"])`;
- codex engine against a stand-in `codex` (tests/engines/fakes/codex.py, with a JSON schema to
  validate) vs running that stand-in directly with the same flags;
- openai engine against a loopback HTTP server vs one bare `httpx.post` to it.
The difference is dflow's share: temp files, argv, process group, event parsing, schema checks,
error mapping. Not a test: figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deksdenflow.domain.config.settings import EngineConfig  # noqa: E402
from deksdenflow.engines.base import EngineRequest  # noqa: E402
from deksdenflow.engines.registry import get_engine  # noqa: E402

SCHEMA = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["PASS", "FAIL"]}},
    "required": ["verdict"],
    "additionalProperties": False,
}
REPLY = {
    "model": "bench",
    "choices": [{"message": {"role": "assistant", "content": '{"verdict": "PASS"}'}}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 2},
}


def measure(
    calls: int, ours: Callable[[], object], bare: Callable[[], object]
) -> tuple[list[float], list[float]]:
    """Alternate the two, so a change in machine load hits both alike (it is a shared box)."""
    ours(), bare()  # warm up imports and caches
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(calls):
        for fn, into in ((ours, times[0]), (bare, times[1])):
            start = time.perf_counter()
            fn()
            into.append((time.perf_counter() - start) * 1000)
    return times


def row(name: str, ours: list[float], bare: list[float]) -> str:
    p95 = lambda xs: sorted(xs)[max(0, int(len(xs) * 0.95) - 1)]  # noqa: E731
    med_o, med_b = statistics.median(ours), statistics.median(bare)
    return (
        f"{name:<8} dflow {med_o:7.2f} ms (p95 {p95(ours):7.2f})   bare {med_b:7.2f} ms "
        f"(p95 {p95(bare):7.2f})   overhead {med_o - med_b:+6.2f} ms"
    )


def fake_codex(tmp: Path) -> Path:
    exe = tmp / "bin" / "codex"
    exe.parent.mkdir()
    fake = ROOT / "tests" / "engines" / "fakes" / "codex.py"
    exe.write_text(f"#!{sys.executable}\n" + fake.read_text())
    exe.chmod(0o755)
    script = tmp / "script.json"
    script.write_text(json.dumps({"message": '{"verdict": "PASS"}'}))
    os.environ.update(FAKE_AGENT_SCRIPT=str(script), FAKE_AGENT_RECORD=str(tmp / "rec.json"))
    return exe


def bench_command(calls: int, work: Path) -> str:
    engine = get_engine("cmd", EngineConfig(kind="command", options={"command": "true"}))
    req = EngineRequest(prompt="p", cwd=work, sandbox="read-only", phase="plan")
    ours, bare = measure(
        calls,
        lambda: engine.run(req),
        lambda: subprocess.run(["true"], cwd=work, input="p", text=True),
    )
    return row("command", ours, bare)


def bench_codex(calls: int, work: Path, tmp: Path) -> str:
    exe = fake_codex(tmp)
    engine = get_engine("codex", EngineConfig(kind="codex", options={"binary": str(exe)}))
    req = EngineRequest(prompt="p", cwd=work, sandbox="read-only", phase="qa", output_schema=SCHEMA)
    (tmp / "schema.json").write_text(json.dumps(SCHEMA))
    argv = [str(exe), "exec", "--json", "--sandbox", "read-only", "--cd", str(work),
            "--skip-git-repo-check", "--output-last-message", str(tmp / "last.txt"),
            "--output-schema", str(tmp / "schema.json"), "-"]  # fmt: skip
    ours, bare = measure(
        calls,
        lambda: engine.run(req),
        lambda: subprocess.run(argv, input="p", capture_output=True, text=True),
    )
    return row("codex", ours, bare)


def bench_openai(calls: int, work: Path) -> str:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            data = json.dumps(REPLY).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    engine = get_engine(
        "openai", EngineConfig(kind="openai", model="bench", options={"base_url": base})
    )
    req = EngineRequest(prompt="p", cwd=work, sandbox="read-only", phase="qa", output_schema=SCHEMA)
    body = {"model": "bench", "messages": [{"role": "user", "content": "p"}]}
    ours, bare = measure(
        calls,
        lambda: engine.run(req),
        lambda: httpx.post(base + "/chat/completions", json=body).json(),
    )
    httpd.shutdown()
    return row("openai", ours, bare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        work = tmp / "work"
        work.mkdir()
        print(f"engine overhead per call, {args.calls} calls each (median, p95)")
        print(bench_command(args.calls, work))
        print(bench_codex(args.calls, work, tmp))
        print(bench_openai(args.calls, work))


if __name__ == "__main__":
    main()
