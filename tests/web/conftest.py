"""A real `dflow serve` process on 127.0.0.1 (port 0), stopped by the fixture."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deksdenflow.context.project import Project

DFLOW = str(Path(sys.executable).with_name("dflow"))
URL = re.compile(r"(http://127\.0\.0\.1:\d+/)(?:\?token=(\S+))?")


@dataclass
class Served:
    base: str
    token: str
    root: Path
    process: subprocess.Popen[str]

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def start(root: Path, *args: str, env: dict[str, str] | None = None) -> Served:
    process = subprocess.Popen([DFLOW, "serve", "--port", "0", *args], cwd=root,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env=env or dict(os.environ))
    assert process.stderr is not None
    deadline = time.monotonic() + 30
    seen = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        found = URL.search(line)
        if found:
            served = Served(found.group(1), found.group(2) or "", root, process)
            _wait_healthy(served)
            return served
    process.kill()
    raise AssertionError(f"dflow serve printed no URL: {''.join(seen)}")


def _wait_healthy(served: Served) -> None:
    import httpx

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(served.base + "api/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("dflow serve never answered /api/health")


def stop(served: Served) -> None:
    served.process.terminate()
    try:
        served.process.wait(10)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait(5)


@pytest.fixture
def served(project: Project) -> Iterator[Served]:
    found = start(project.root)
    try:
        yield found
    finally:
        stop(found)


def dflow(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DFLOW, *args], cwd=root, capture_output=True, text=True,
                          timeout=60)
