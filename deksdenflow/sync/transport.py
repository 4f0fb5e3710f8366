"""Moving state commits between clones: the git CLI does the network part (any URL git knows,
its credential helpers and SSH config), the store does every ref write on our side."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from .. import environment
from ..errors import DflowError, GitOperationError, GitTimeout
from ..git import runner
from ..store import Store
from ..store.encoding.layout import STATE_REF
from ..store.sharing.integrate import tracking_ref
from . import seen

NUMBERS_PREFIX = "refs/deksdenflow/numbers/"
_MISSING_REF = re.compile(r"couldn't find remote ref (\S+)")
_RACE = re.compile(r"cannot lock ref|failed to update ref|incorrect old value|stale info")
GIT_TIMEOUT_S = 120.0  # sync's fetch and push, unless DFLOW_GIT_TIMEOUT says otherwise


def git_timeout_s() -> float:
    if environment.is_set("DFLOW_GIT_TIMEOUT"):
        return environment.seconds("DFLOW_GIT_TIMEOUT")
    return GIT_TIMEOUT_S
# An implicit sync around a command must not hang on a black-holed remote for minutes.

_timeout: ContextVar[float | None] = ContextVar("dflow_git_timeout", default=None)


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Bound every git call made inside (the implicit sync uses a short one)."""
    token = _timeout.set(seconds)
    try:
        yield
    finally:
        _timeout.reset(token)


class RemoteUnreachable(DflowError):
    """The remote could not be reached (offline, wrong URL, no access)."""


explain_once = seen.explain_once  # one owner of the command's scope (sync/seen.py)


def unreachable(exc: RemoteUnreachable, remote: str) -> str:
    """git's whole reason the first time a command meets it; after that (numbering, then the
    push after the command) a short reference to it: one long warning per command."""
    told = seen.told.get()
    if told is not None and remote in told:
        return f"remote '{remote}' is unreachable (see above)"
    if told is not None:
        told.add(remote)
    return str(exc)


class NoRemote(DflowError):
    """The repository has no remote of that name."""


def git(store: Store, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    limit = timeout or _timeout.get() or git_timeout_s()
    try:
        return runner.run(None, *args, check=False, timeout=limit, git_dir=store.git_dir)
    except GitTimeout as exc:
        raise RemoteUnreachable(f"`git {args[0]}` got no answer within {limit:g}s "
                                "(offline?)") from exc


def check_remote(store: Store, remote: str) -> None:
    if remote not in store.remote_names():
        raise NoRemote(
            f"this repository has no remote '{remote}'; add one with `git remote add {remote} URL` "
            "or name another with --remote"
        )


def remote_url(store: Store, remote: str) -> str:
    check_remote(store, remote)
    return store.remote_url(remote)


def fetch_state(store: Store, remote: str, extra: dict[str, str] | None = None) -> str | None:
    """Fetch the remote's state ref into its tracking ref; the tip, or None when the remote
    has no state yet. `extra` maps more remote refs to local ones (a missing one is skipped)."""
    check_remote(store, remote)
    specs = {STATE_REF: tracking_ref(remote), **(extra or {})}
    # A pattern's tracking refs follow the remote's, deletions too: a stale one could block
    # the name of a new ref (`a` kept here while the remote now has `a/b`).
    prune = ["--prune"] if any(src.endswith("*") for src in specs) else []
    while specs:
        done = git(store, "fetch", "--no-tags", "--quiet", *prune, remote,
                   *(f"+{src}:{dst}" for src, dst in specs.items()))
        if done.returncode == 0:
            break
        missing = _MISSING_REF.search(done.stderr)
        if missing is None or missing.group(1) not in specs:
            raise RemoteUnreachable(_why(remote, done))
        del specs[missing.group(1)]
    if STATE_REF not in specs:
        return None
    return store.ref_target(tracking_ref(remote))


def push_ref(store: Store, remote: str, commit: str, dest: str) -> bool:
    """Push without force; False when the remote refused because its ref moved or exists."""
    done = git(store, "push", "--porcelain", "--quiet", remote, f"{commit}:{dest}")
    if done.returncode == 0:
        return True
    refused = [ln for ln in done.stdout.splitlines() if ln.startswith("!")]
    for line in refused:
        if "[remote rejected]" in line and not _RACE.search(line):
            # A hook or a permission said no: retrying cannot help.
            raise RemoteUnreachable(f"'{remote}' refused the push of {dest}: "
                                    f"{line.split(chr(9))[-1].strip()}")
    if refused or _RACE.search(done.stderr):
        return False  # rejected: non-fast-forward, fetch first, or a lost ref lock
    raise RemoteUnreachable(_why(remote, done))


def push_state(store: Store, remote: str, commit: str) -> bool:
    return push_ref(store, remote, commit, STATE_REF)


def claimed_numbers(store: Store, remote: str) -> list[int]:
    """Protocol numbers claimed on the remote (refs/deksdenflow/numbers/NNNN)."""
    done = git(store, "ls-remote", "--refs", remote, f"{NUMBERS_PREFIX}*")
    if done.returncode != 0:
        raise RemoteUnreachable(_why(remote, done))
    numbers = []
    for line in done.stdout.splitlines():
        name = line.split("\t")[-1].removeprefix(NUMBERS_PREFIX)
        if name.isdigit():
            numbers.append(int(name))
    return numbers


def push_branch(cwd: Path, store: Store, remote: str, branch: str) -> None:
    """Push a code branch (no force) and set its upstream."""
    done = git(store, "push", "--quiet", "-u", remote, f"refs/heads/{branch}:refs/heads/{branch}")
    if done.returncode != 0:
        raise GitOperationError(
            f"could not push branch {branch} to {remote}: {_last_line(done)}; "
            f"run `git push -u {remote} {branch}` to see why"
        )


def _why(remote: str, done: subprocess.CompletedProcess[str]) -> str:
    return f"could not reach remote '{remote}': {_last_line(done)}"


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    """git's whole message: its last line alone often reads as nonsense ("and the repository
    exists.")."""
    return runner.detail(done)
