"""Every git command dflow runs goes through `run`: hooks and fsmonitor off, a clean
environment, no prompts, a timeout that kills git with its children, and git's whole stderr in
the error (docs/decisions/0720-git-runs-no-hooks.md).

A repository's hooks (`core.hooksPath` may point into a tracked folder an agent can edit) and
its fsmonitor command are programs the repository controls; dflow's own git commands run
outside any agent sandbox, as the user, so they must not start them.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeAlias, TypeVar

from .. import environment
from ..domain.agents.redaction import redact
from ..errors import GitCommandFailed, GitNotFound, GitTimeout
from .worktree import Worktree

Where: TypeAlias = "Path | str | Worktree | None"

# `-c` options that switch off what a repository could make git execute on our behalf.
SAFE_CONFIG = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")
NO_FSMONITOR = ("-c", "core.fsmonitor=false")
# On a run's worktree (where an agent worked) also: no recursion into a submodule or nested
# repository (whose own config the agent wrote: its filters would run), no signing or
# signature check (gpg.program), no credential helper, ssh command or transport at all (a
# worktree command never needs the network), no external diff. The git dir and work tree are
# named explicitly (git/worktree.py; docs/decisions/1530-dflow-git-on-recorded-gitdirs.md).
WORKTREE_CONFIG = (
    "-c", "submodule.recurse=false", "-c", "diff.ignoreSubmodules=all",
    "-c", "status.submoduleSummary=false", "-c", "fetch.recurseSubmodules=false",
    "-c", "push.recurseSubmodules=no", "-c", "commit.gpgSign=false", "-c", "tag.gpgSign=false",
    "-c", "log.showSignature=false", "-c", "merge.verifySignatures=false",
    "-c", "credential.helper=", "-c", "core.sshCommand=false", "-c", "protocol.allow=never",
    "-c", "diff.external=", "-c", "core.pager=cat",
)
DEFAULT_TIMEOUT_S = 600.0
MAX_DETAIL = 4000
# Variables that say *where* a repository is or how git behaves in it. Inherited from a parent
# git (dflow started from a hook, an alias, `git rebase -x`) they would aim our git at another
# repository, so every GIT_* is dropped except those that carry the user's own choices.
_KEPT_GIT_VARS = frozenset({
    "GIT_EXEC_PATH", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSH_VARIANT", "GIT_ASKPASS",
    "GIT_SSL_CAINFO", "GIT_SSL_CAPATH", "GIT_SSL_NO_VERIFY", "GIT_ALLOW_PROTOCOL",
    "GIT_HTTP_PROXY_AUTHMETHOD", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM",
    "GIT_CONFIG_COUNT", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL", "GIT_TRACE", "GIT_TRACE2", "GIT_TRACE2_EVENT",
})
Out = TypeVar("Out", str, bytes)


def worktree_options(tree: Worktree) -> tuple[str, ...]:
    """What every git command on a run's worktree is given before its own arguments."""
    return (*WORKTREE_CONFIG, f"--git-dir={tree.git_dir}", f"--work-tree={tree.path}")


def run(cwd: Where, *args: str, check: bool = True, hooks: bool = False,
        timeout: float | None = None, git_dir: Path | str | None = None,
        env: Mapping[str, str] | None = None, input: str | None = None,
        ) -> subprocess.CompletedProcess[str]:
    """Run `git ARGS` in `cwd`; a failure (with `check`) becomes one GitCommandFailed that
    quotes git's whole message. `hooks=True` only where the user turned hooks on."""
    done: subprocess.CompletedProcess[str] = _run(cwd, args, hooks, timeout, git_dir, env,
                                                  input)
    if check and done.returncode != 0:
        raise failure(done, args, cwd)
    return done


def run_bytes(cwd: Where, *args: str, input: bytes | None = None,
              check: bool = True, timeout: float | None = None,
              ) -> subprocess.CompletedProcess[bytes]:
    """`run` for binary output (blob contents, `-z` batches): same options, same errors."""
    done: subprocess.CompletedProcess[bytes] = _run(cwd, args, False, timeout, None, None,
                                                    input if input is not None else b"")
    if check and done.returncode != 0:
        raise failure(done, args, cwd)
    return done


def _run(cwd: Where, args: Sequence[str], hooks: bool, timeout: float | None,
         git_dir: Path | str | None, env: Mapping[str, str] | None,
         input: Out | None) -> subprocess.CompletedProcess[Out]:
    """`input` None: text, stdin closed; str: text fed to stdin; bytes (b"" too): binary.
    A Worktree `cwd`: its recorded git dir and work tree, named explicitly, hardened."""
    if isinstance(cwd, Worktree):
        options: tuple[str, ...] = worktree_options(cwd)
        argv = command([*options, *args], hooks)
        folder: Path | str | None = cwd.path
    else:
        argv = command(args, hooks, git_dir)
        folder = cwd
    limit = timeout or default_timeout()
    try:
        return execute(argv, folder, clean_env(env), limit, input)
    except FileNotFoundError as exc:
        if cwd is not None and not Path(cwd).is_dir():
            raise GitCommandFailed(f"`git {_shown(args)}` cannot run: {cwd} does not exist",
                                   args=tuple(args), returncode=-1) from exc
        raise GitNotFound("git is not on PATH; install git") from exc
    except subprocess.TimeoutExpired as exc:
        raise GitTimeout(f"`git {_shown(args)}` did not finish within {limit:g}s"
                         f"{_where(cwd)}; it was stopped", args=tuple(args), returncode=-1,
                         timeout_s=limit) from exc


def command(args: Sequence[str], hooks: bool = False,
            git_dir: Path | str | None = None) -> list[str]:
    """The argv for `git ARGS` with the safe options (for the one caller that hands git the
    terminal, `dflow diff`'s pager path)."""
    location = [f"--git-dir={git_dir}"] if git_dir is not None else []
    return ["git", *(NO_FSMONITOR if hooks else SAFE_CONFIG), *location, *args]


def execute(argv: list[str], cwd: Path | str | None, env: dict[str, str], timeout: float,
            input: Out | None) -> subprocess.CompletedProcess[Out]:
    """The one spawn of a waited-for git (benchmarks wrap it to time git). On a timeout the
    whole process group goes: a hung fetch's ssh or credential helper must not linger."""
    text = not isinstance(input, bytes)
    with subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL if not input else subprocess.PIPE,
                          text=text, encoding="utf-8" if text else None,
                          errors="replace" if text else None, env=env,
                          start_new_session=True) as proc:
        try:
            out, err = proc.communicate(input or None, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise
        return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _kill_group(proc: subprocess.Popen[Out]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    proc.communicate()


def clean_env(extra: Mapping[str, str] | None = None, english: bool = True) -> dict[str, str]:
    """Our environment minus inherited GIT_* locations; no prompts; git's messages in English
    (callers parse some of them) unless git talks to the user's terminal itself."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GIT_") or k in _KEPT_GIT_VARS
           or k.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))}
    env["GIT_TERMINAL_PROMPT"] = "0"
    if english:
        env.update({"LC_ALL": "C", "LANGUAGE": "C"})
    env.update(extra or {})
    return env


def default_timeout() -> float:
    """`DFLOW_GIT_TIMEOUT` seconds when set (read per call, never at import), else 600."""
    return environment.seconds("DFLOW_GIT_TIMEOUT")


def failure(done: subprocess.CompletedProcess[Out], args: Sequence[str],
            cwd: Where = None) -> GitCommandFailed:
    """The error for a failed git call: the command, where, and all git said (redacted)."""
    stderr = _decoded(done.stderr)
    return GitCommandFailed(
        redact(f"`git {_shown(args)}` failed{_where(cwd)}: {detail(done)}"),
        args=tuple(args), returncode=done.returncode, stderr=stderr)


def detail(done: subprocess.CompletedProcess[Out]) -> str:
    """git's whole message (stderr, else stdout), on one line, bounded."""
    text = " ".join((_decoded(done.stderr) or _decoded(done.stdout)).split())
    if not text:
        return f"exit {done.returncode}"
    return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL] + " [...]"


def version() -> str | None:
    """`git --version`, or None when git cannot be run."""
    try:
        return run(None, "--version", timeout=10).stdout.strip()
    except (GitNotFound, GitCommandFailed):
        return None


def spawn_detached(git_dir: Path, *args: str) -> None:
    """Start `git ARGS` on `git_dir` in its own session, output discarded (background gc;
    `gc --auto` would otherwise run the repository's pre-auto-gc hook)."""
    subprocess.Popen(command(args, False, git_dir), stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env(),
                     start_new_session=True)


def _decoded(out: str | bytes | None) -> str:
    if isinstance(out, bytes):
        return out.decode("utf-8", errors="replace")
    return out or ""


def _shown(args: Sequence[str]) -> str:
    shown = [a for a in args if not a.startswith(("user.name=", "user.email="))]
    while shown[:1] == ["-c"] or shown[:1] and shown[0].startswith(("--git-dir=",
                                                                    "--work-tree=")):
        shown = shown[2:] if shown[0] == "-c" else shown[1:]
    return " ".join(shown)


def _where(cwd: Where) -> str:
    return f" in {cwd}" if cwd else ""
