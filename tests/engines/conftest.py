"""Fake agent executables on PATH (the one fake the team rules allow) and request helpers."""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deksdenflow.engines.base import EngineRequest

FAKES = Path(__file__).parent / "fakes"


@dataclass
class FakeAgent:
    """One fake CLI installed as `bin/NAME`; `script(...)` sets what it does next."""

    name: str
    bin_dir: Path
    script_file: Path
    record_file: Path

    def script(self, **behaviour: Any) -> None:
        """What the next calls do; `queue=[{...}, ...]` gives each call its own behaviour."""
        self.script_file.write_text(json.dumps(behaviour))

    def pending(self) -> list[dict[str, Any]]:
        """Queued behaviours not used yet."""
        queue: list[dict[str, Any]] = json.loads(self.script_file.read_text()).get("queue", [])
        return queue

    def record(self) -> dict[str, Any]:
        """What the fake was called with: argv, prompt (stdin), cwd, schema, FAKE_ENV_* vars."""
        assert self.record_file.exists(), f"the fake {self.name} was never called"
        data: dict[str, Any] = json.loads(self.record_file.read_text())
        return data

    def calls(self) -> list[dict[str, Any]]:
        """Every call so far, oldest first (same shape as `record()`)."""
        path = self.record_file.with_name(self.record_file.name + ".all")
        lines = path.read_text().splitlines() if path.exists() else []
        return [json.loads(line) for line in lines]

    def flag(self, name: str) -> str:
        argv = self.record()["argv"]
        assert name in argv, f"{name} not passed: {argv}"
        return str(argv[argv.index(name) + 1])


def install_fake(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeAgent:
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / name
    fake = FakeAgent(name, bin_dir, tmp_path / f"{name}-script.json", tmp_path / f"{name}-rec.json")
    # The paths are baked in: the agent's environment is an allowlist (decision 1532).
    header = (f"#!{sys.executable}\nimport os, sys\nsys.path.insert(0, {str(FAKES)!r})\n"
              f"os.environ.setdefault('FAKE_AGENT_SCRIPT', {str(fake.script_file)!r})\n"
              f"os.environ.setdefault('FAKE_AGENT_RECORD', {str(fake.record_file)!r})\n")
    exe.write_text(header + (FAKES / f"{name}.py").read_text())
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    fake.script()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_AGENT_SCRIPT", str(fake.script_file))
    monkeypatch.setenv("FAKE_AGENT_RECORD", str(fake.record_file))
    return fake


@pytest.fixture
def fake_codex(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeAgent:
    return install_fake("codex", tmp_path, monkeypatch)


@pytest.fixture
def fake_claude(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeAgent:
    return install_fake("claude", tmp_path, monkeypatch)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work tree"  # a space, so quoting mistakes show
    path.mkdir()
    return path


def request(cwd: Path, **fields: Any) -> EngineRequest:
    base: dict[str, Any] = {
        "prompt": "do the thing\n",
        "cwd": cwd,
        "sandbox": "read-only",
        "phase": "plan",
        "timeout_s": 60,
    }
    return EngineRequest(**{**base, **fields})


VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["PASS", "FAIL"]}},
    "required": ["verdict"],
    "additionalProperties": False,
}


def pid_is_gone(pid: int) -> bool:
    """True when `pid` no longer runs (a zombie awaiting its reaper counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in status
