"""Fixtures for the end-to-end tests: the real Codex CLI (pinned, installed with npm into a cache
shared by every test and every run) and a scripted model provider on 127.0.0.1 that it talks to.

No network beyond 127.0.0.1: the model provider is our server; Codex's own background calls
(plugin sync from GitHub, analytics) are switched off in its config; and the server doubles as
the HTTP(S) proxy of every process the tests start, so any other attempt is recorded and refused
(`server.outbound`, asserted empty). See docs/decisions/0600-e2e-real-codex-cli.md and
0601-e2e-no-network.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from .model_server import ScriptedModelServer

# The Codex CLI version these tests (and docs/engines.md) are verified against. Bump it on
# purpose, run `pytest -m e2e`, and update docs/engines.md with what changed.
CODEX_VERSION = "0.169.0"
CODEX_PACKAGE = f"@openai/codex@{CODEX_VERSION}"
MODEL = "scripted-model"
API_KEY_ENV = "SCRIPTED_MODEL_API_KEY"
API_KEY = "sk-scripted-e2e-key-0000000000000000"

# Read before any fixture swaps HOME for a temporary one, so the cache survives across runs.
_CACHE_ROOT = Path(os.environ.get("DFLOW_E2E_CACHE") or Path.home() / ".cache" / "dflow-e2e")


def _installed_version(codex: Path) -> str:
    if not codex.exists():
        return ""
    out = subprocess.run([str(codex), "--version"], capture_output=True, text=True, timeout=60)
    return out.stdout.strip() if out.returncode == 0 else ""


def _npm_install(target: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(
            f"the e2e tests need npm to install {CODEX_PACKAGE}, but there is no `npm` on PATH; "
            "install Node.js 18+ with npm (apt-get install nodejs npm)",
            pytrace=False,
        )
    staging = target.with_name(f"{target.name}.staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [npm, "install", "--prefix", str(staging), "--no-audit", "--no-fund", CODEX_PACKAGE]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        pytest.fail(
            f"`npm install {CODEX_PACKAGE}` failed (exit {out.returncode}); the e2e tests need "
            "the real Codex CLI, so check that the npm registry is reachable:\n"
            + out.stderr[-2000:],
            pytrace=False,
        )
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


@pytest.fixture(scope="session")
def codex_bin() -> Path:
    """The pinned real `codex` executable, installed with npm into the cache on first use."""
    target = _CACHE_ROOT / f"codex-{CODEX_VERSION}"
    codex = target / "node_modules" / ".bin" / "codex"
    _CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    # Both xdist workers may get here at once: one installs, the other waits and reuses it.
    with FileLock(str(_CACHE_ROOT / f"codex-{CODEX_VERSION}.lock"), timeout=900):
        if _installed_version(codex) != f"codex-cli {CODEX_VERSION}":
            _npm_install(target)
    version = _installed_version(codex)
    if version != f"codex-cli {CODEX_VERSION}":
        pytest.fail(
            f"{codex} reports {version!r}, not codex-cli {CODEX_VERSION}; delete {target} and "
            "run the e2e tests again",
            pytrace=False,
        )
    return codex


def codex_config(base_url: str) -> str:
    """CODEX_HOME/config.toml: the scripted server as the model provider, nothing else online."""
    return f"""\
model = "{MODEL}"
model_provider = "scripted"

[model_providers.scripted]
name = "dflow scripted model server"
base_url = "{base_url}"
wire_api = "responses"
env_key = "{API_KEY_ENV}"
# A failed request must fail the run at once, not be retried for minutes.
request_max_retries = 0
stream_max_retries = 0

# Without these Codex reaches github.com (plugin sync) and chatgpt.com (analytics) at startup.
[features]
plugins = false
remote_plugin = false

[analytics]
enabled = false
"""


@dataclass
class CodexSetup:
    """What one test has: the scripted server, the real codex, and the env both need."""

    server: ScriptedModelServer
    codex: Path
    home: Path

    def exec(self, *args: str, prompt: str, cwd: Path, timeout: float = 120) -> Result:
        """Run `codex exec ARGS -` with the prompt on stdin, as dflow's engine does."""
        cmd = [str(self.codex), "exec", *args, "-"]
        out = subprocess.run(
            cmd, input=prompt, capture_output=True, text=True, cwd=cwd, timeout=timeout
        )
        return Result(out.returncode, out.stdout, out.stderr)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def events(self) -> list[dict[str, Any]]:
        """The `--json` event stream (one JSON object per stdout line)."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]


@pytest.fixture
def codex_setup(
    codex_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CodexSetup]:
    """A scripted server on 127.0.0.1 and a CODEX_HOME pointing at it, exported to subprocesses."""
    with ScriptedModelServer() as server:
        home = tmp_path / "codex-home"
        home.mkdir()
        (home / "config.toml").write_text(codex_config(server.base_url))
        proxy = server.base_url.removesuffix("/v1")
        monkeypatch.setenv("CODEX_HOME", str(home))
        monkeypatch.setenv(API_KEY_ENV, API_KEY)
        monkeypatch.setenv("PATH", f"{codex_bin.parent}{os.pathsep}{os.environ['PATH']}")
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy"):
            monkeypatch.setenv(name, proxy)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
        yield CodexSetup(server=server, codex=codex_bin, home=home)
        assert server.outbound == [], f"a process tried to leave 127.0.0.1: {server.outbound}"
