"""Fixtures for the end-to-end tests: the real Codex CLI (pinned, installed with npm into a cache
shared by every test and every run) and a scripted model provider on 127.0.0.1 that it talks to.

No network beyond 127.0.0.1: the model provider is our server; Codex's own background calls
(plugin sync from GitHub, analytics) are switched off in its config; and the server doubles as
the HTTP(S) proxy of every process the tests start, so any other attempt is recorded and refused
(`server.outbound`, asserted empty). See docs/decisions/0600-e2e-real-codex-cli.md and
0601-e2e-no-network.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
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
MODEL = "scripted-model"
API_KEY_ENV = "SCRIPTED_MODEL_API_KEY"
API_KEY = "sk-scripted-e2e-key-0000000000000000"

# Read before any fixture swaps HOME for a temporary one, so the cache survives across runs.
_CACHE_ROOT = Path(os.environ.get("DFLOW_E2E_CACHE") or Path.home() / ".cache" / "dflow-e2e")


def _installed_version(binary: Path) -> str:
    if not binary.exists():
        return ""
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60)
    return out.stdout.strip() if out.returncode == 0 else ""


def _npm_install(target: Path, package: str, what: str) -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(
            f"the e2e tests need npm to install {package}, but there is no `npm` on PATH; "
            "install Node.js 18+ with npm (apt-get install nodejs npm)",
            pytrace=False,
        )
    staging = target.with_name(f"{target.name}.staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [npm, "install", "--prefix", str(staging), "--no-audit", "--no-fund", package]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        pytest.fail(
            f"`npm install {package}` failed (exit {out.returncode}); the e2e tests need "
            f"the real {what}, so check that the npm registry is reachable:\n" + out.stderr[-2000:],
            pytrace=False,
        )
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def pinned_cli(name: str, package: str, version: str, reports: str, what: str) -> Path:
    """The pinned executable `name` of npm `package@version`, installed into the cache on
    first use; `reports` is what its `--version` must print."""
    target = _CACHE_ROOT / f"{name}-{version}"
    binary = target / "node_modules" / ".bin" / name
    _CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    # Both xdist workers may get here at once: one installs, the other waits and reuses it.
    with FileLock(str(_CACHE_ROOT / f"{name}-{version}.lock"), timeout=900):
        if _installed_version(binary) != reports:
            _npm_install(target, f"{package}@{version}", what)
    found = _installed_version(binary)
    if found != reports:
        pytest.fail(
            f"{binary} reports {found!r}, not {reports}; delete {target} and run the e2e tests "
            "again",
            pytrace=False,
        )
    return binary


@pytest.fixture(scope="session")
def codex_bin() -> Path:
    """The pinned real `codex` executable, installed with npm into the cache on first use."""
    return pinned_cli(
        "codex", "@openai/codex", CODEX_VERSION, f"codex-cli {CODEX_VERSION}", "Codex CLI"
    )


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


@contextlib.contextmanager
def _codex_home() -> Iterator[Path]:
    """A CODEX_HOME of the test's own, outside the system temp dir: with a system bubblewrap on
    PATH (which Claude Code's sandbox needs), Codex 0.169.0 runs its sandbox helper through
    PATH aliases it refuses to create under /tmp, and every sandboxed command then fails with
    `bwrap: execvp codex-linux-sandbox: No such file or directory`."""
    homes = _CACHE_ROOT / "codex-homes"
    homes.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="home-", dir=homes))
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


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
    with ScriptedModelServer() as server, _codex_home() as home:
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


# --- Claude Code ---------------------------------------------------------------------------
# The Claude Code version these tests (and docs/engines.md) are verified against; bump it on
# purpose, run `pytest -m e2e -k claude`, and update docs/engines.md with what changed.
CLAUDE_VERSION = "2.1.337"
# A model Claude Code knows the price of, so that it reports a cost (the server plays it).
CLAUDE_MODEL = "claude-sonnet-4-5"
ANTHROPIC_KEY = "sk-ant-api03-scripted-e2e-key-0000000000000000000000000000"
# Every request Claude Code makes beyond the model API, off (its docs' environment variables).
CLAUDE_QUIET = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
}


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    """The pinned real `claude` executable, installed with npm into the cache on first use."""
    return pinned_cli(
        "claude",
        "@anthropic-ai/claude-code",
        CLAUDE_VERSION,
        f"{CLAUDE_VERSION} (Claude Code)",
        "Claude Code CLI",
    )


@pytest.fixture(scope="session")
def claude_sandbox_works() -> None:
    """Claude Code's sandbox needs bubblewrap and socat (.ci/run installs them) and user
    namespaces: missing packages fail the tests with what to install; a kernel or container
    that refuses namespaces skips them with bwrap's own words, never silently."""
    from deksdenflow.engines import claude_sandbox

    missing = [tool for tool in ("bwrap", "socat") if shutil.which(tool) is None]
    if missing:
        pytest.fail(
            f"the Claude Code e2e tests need {' and '.join(missing)} for its sandbox: "
            f"{claude_sandbox.LINUX_PACKAGES}",
            pytrace=False,
        )
    problem = claude_sandbox.namespace_problem()
    if problem:
        pytest.skip(
            f"Claude Code's sandbox cannot run here: bubblewrap cannot create "
            f"namespaces ({problem})"
        )


@dataclass
class ClaudeSetup:
    """What one Claude test has: the scripted server (Anthropic dialect) and the real claude."""

    server: ScriptedModelServer
    claude: Path
    home: Path


@pytest.fixture
def claude_setup(
    claude_bin: Path, claude_sandbox_works: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ClaudeSetup]:
    """A scripted server on 127.0.0.1 as ANTHROPIC_BASE_URL, a HOME of the test's own, and
    every non-essential request of Claude Code turned off; exported to subprocesses."""
    with ScriptedModelServer() as server:
        home = tmp_path / "claude-home"
        home.mkdir()
        root = server.base_url.removesuffix("/v1")
        monkeypatch.setenv("HOME", str(home))  # ~/.claude.json, ~/.claude/ of this test only
        monkeypatch.setenv("ANTHROPIC_BASE_URL", root)
        monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
        for name in ("ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "CLAUDE_CONFIG_DIR"):
            monkeypatch.delenv(name, raising=False)
        for name, value in CLAUDE_QUIET.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("PATH", f"{claude_bin.parent}{os.pathsep}{os.environ['PATH']}")
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy"):
            monkeypatch.setenv(name, root)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
        yield ClaudeSetup(server=server, claude=claude_bin, home=home)
        assert server.outbound == [], f"a process tried to leave 127.0.0.1: {server.outbound}"
