"""Every git command dflow runs goes through `run`: hooks and fsmonitor off, no prompts, a
timeout, and git's whole stderr in the error (docs/decisions/0720-git-runs-no-hooks.md).

A repository's hooks (`core.hooksPath` may point into a tracked folder an agent can edit) and
its fsmonitor command are programs the repository controls; dflow's own git commands run
outside any agent sandbox, as the user, so they must not start them.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import GitOperationError

# `-c` options that switch off what a repository could make git execute on our behalf.
SAFE_CONFIG = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")
DEFAULT_TIMEOUT_S = 600.0
MAX_DETAIL = 4000


def run(cwd: Path | str | None, *args: str, check: bool = True, hooks: bool = False,
        timeout: float | None = None, git_dir: Path | str | None = None,
        env: Mapping[str, str] | None = None, input: str | None = None,
        ) -> subprocess.CompletedProcess[str]:
    """Run `git ARGS` in `cwd`; a failure (with `check`) becomes one GitOperationError that
    quotes git's whole message. `hooks=True` only where the user turned hooks on."""
    cmd = ["git", *(() if hooks else SAFE_CONFIG)]
    if git_dir is not None:
        cmd.append(f"--git-dir={git_dir}")
    cmd += args
    full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})}
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=full_env,
                              timeout=timeout or DEFAULT_TIMEOUT_S, input=input,
                              stdin=None if input is not None else subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise GitOperationError("git is not on PATH; install git") from exc
    except subprocess.TimeoutExpired as exc:
        raise GitOperationError(f"`git {_shown(args)}` did not finish within {exc.timeout:g}s"
                                f"{f' in {cwd}' if cwd else ''}") from exc
    if check and done.returncode != 0:
        raise GitOperationError(f"`git {_shown(args)}` failed{f' in {cwd}' if cwd else ''}: "
                                f"{detail(done)}")
    return done


def detail(done: subprocess.CompletedProcess[str]) -> str:
    """git's whole message (stderr, else stdout), on one line, bounded."""
    text = " ".join((done.stderr or done.stdout or "").split())
    if not text:
        return f"exit {done.returncode}"
    return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL] + " [...]"


def _shown(args: Sequence[str]) -> str:
    shown = [a for a in args if not a.startswith(("user.name=", "user.email="))]
    while shown[:1] == ["-c"]:
        shown = shown[2:]
    return " ".join(shown)
