"""Claude Code's native sandbox as dflow asks for it: the settings it passes on every call, the
failures that mean the sandbox cannot start, and what `dflow doctor` checks on this machine.

Claude Code (2.1+) runs every Bash command under bubblewrap + socat on Linux (Seatbelt on
macOS): writes only to the working directory (and its own private temp dir), network only
through its proxy to allowed hosts. The settings below are passed with `--settings FILE`, a
file dflow writes outside the worktree, never one the agent can edit (decision 1560).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..domain.agents.engine import EngineCheck

# What Claude Code prints (stderr) when `sandbox.failIfUnavailable` stops it at startup.
UNAVAILABLE = "sandbox required but unavailable"
LINUX_PACKAGES = "apt-get install bubblewrap socat (dnf install bubblewrap socat)"
# The namespaces Claude Code's bwrap asks for (seen in 2.1.337's command line).
NAMESPACE_PROBE = ("--ro-bind", "/", "/", "--unshare-user", "--unshare-pid", "--unshare-net",
                   "--dev", "/dev", "--proc", "/proc", "true")


def settings(cwd: Path, allowed_hosts: list[str]) -> dict[str, Any]:
    """The sandbox settings of one call: on, or Claude Code refuses to start; no command may
    leave it; nothing of git's writable from inside; network only to `allowed_hosts`."""
    return {
        "sandbox": {
            "enabled": True,
            "failIfUnavailable": True,  # no bwrap: refuse to start, never run unconfined
            "allowUnsandboxedCommands": False,  # `dangerouslyDisableSandbox` is ignored
            "autoAllowBashIfSandboxed": True,
            "filesystem": {"denyWrite": git_paths(cwd)},
            "network": {"allowedDomains": list(allowed_hosts), "strictAllowlist": True},
        },
    }


def git_paths(cwd: Path) -> list[str]:
    """The worktree's `.git` entry and the git dirs it names: never writable by the agent, even
    where a user's own settings allow writing around them (a repository under an allowed
    path). Outside the worktree they are read-only anyway; this says so explicitly."""
    entry = cwd / ".git"
    paths = [entry]
    if entry.is_file():
        try:
            named = entry.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            named = ""
        if named.startswith("gitdir:"):
            gitdir = (cwd / named.removeprefix("gitdir:").strip()).resolve()
            paths.append(gitdir)
            if gitdir.parent.name == "worktrees":
                paths.append(gitdir.parent.parent)  # the common dir: refs, objects, config
    return list(dict.fromkeys(str(p) for p in paths))


def unavailable(stderr: str) -> str:
    """Claude Code's own sentence when its sandbox could not start, or ""."""
    for line in stderr.splitlines():
        if UNAVAILABLE in line:
            return line.strip().removeprefix("Error:").strip()
    return ""


def checks(engine: str, enabled: bool) -> list[EngineCheck]:
    """Whether Claude Code's sandbox can work on this machine, and what to install if not."""
    name = f"{engine} sandbox"
    if not enabled:
        return [EngineCheck(
            name=name, level="warn",
            detail=f"off ([engines.{engine}] options.native_sandbox = false): the agent's "
                   "commands run unconfined",
            fix=f"remove [engines.{engine}] options.native_sandbox to turn it on")]
    if sys.platform == "darwin":
        return [EngineCheck(name=name, level="ok", detail="Seatbelt (built into macOS)")]
    if not sys.platform.startswith("linux"):
        return [EngineCheck(
            name=name, level="fail", detail=f"Claude Code has no sandbox on {sys.platform}",
            fix=f"run dflow in WSL2 or Linux, or set [engines.{engine}] options.native_sandbox "
                "= false inside a container or VM")]
    missing = [tool for tool in ("bwrap", "socat") if shutil.which(tool) is None]
    if missing:
        return [EngineCheck(
            name=name, level="fail",
            detail=f"{' and '.join(missing)} not on PATH: Claude Code's sandbox cannot start",
            fix=LINUX_PACKAGES)]
    problem = namespace_problem()
    if problem:
        return [EngineCheck(
            name=name, level="fail",
            detail=f"bubblewrap cannot create namespaces here: {problem}",
            fix="enable user namespaces (sysctl kernel.unprivileged_userns_clone=1 and "
                "user.max_user_namespaces > 0; in a container, allow them), or run in a "
                f"container or VM with [engines.{engine}] options.native_sandbox = false")]
    return [EngineCheck(name=name, level="ok", detail="bubblewrap and socat work here")]


def namespace_problem() -> str:
    """Why `bwrap` cannot start a sandbox like Claude Code's here, or "" when it can."""
    try:
        out = subprocess.run(["bwrap", *NAMESPACE_PROBE], capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if out.returncode == 0:
        return ""
    said = [line for line in out.stderr.strip().splitlines() if line.strip()]
    return said[-1] if said else f"exit {out.returncode}"
