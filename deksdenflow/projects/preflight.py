"""What `dflow init` checks before it writes anything: the repository has a working tree, and
the base branch exists here, on a remote, or is the branch a repository without commits is on
(docs/decisions/0971-init-checks-before-it-writes.md)."""

from __future__ import annotations

from pathlib import Path

from ..errors import DflowError, UsageError
from ..git import runner as git

SHOWN_BRANCHES = 10


class BareRepository(DflowError):
    """dflow needs a working tree: run branches get worktrees next to it."""


def refuse_bare(root: Path) -> None:
    """A bare repository has no working tree for run branches: say so before writing."""
    done = git.run(root, "rev-parse", "--is-bare-repository", "--absolute-git-dir", check=False)
    lines = done.stdout.split()
    if done.returncode == 0 and lines[:1] == ["true"]:
        where = lines[1] if len(lines) > 1 else str(root.resolve())
        raise BareRepository(f"{where} is a bare repository (no working tree for run "
                             f"branches); clone it (git clone {where} WORKDIR) and run "
                             "`dflow init` in the clone")


def check_base(root: Path, base: str) -> None:
    """Refuse a base branch that exists nowhere: not local, not remote-tracking, not the
    unborn branch of a repository without commits (0004), not on a remote that answers."""
    local, remote = _branches(root)
    if base in local or base in remote or base == _unborn_head(root):
        return
    if _on_a_remote(root, base):
        return
    known = sorted(local | remote)
    listed = ", ".join(known[:SHOWN_BRANCHES]) + (", …" if len(known) > SHOWN_BRANCHES else "")
    raise UsageError(f"there is no branch '{base}' in this repository or its remotes "
                     f"(branches: {listed or 'none yet'}); pass --base with one of them, or "
                     "create the branch first")


def _branches(root: Path) -> tuple[set[str], set[str]]:
    """Local branch names, and remote-tracking ones without their remote's name."""
    out = git.run(root, "for-each-ref", "--format=%(refname)", "refs/heads", "refs/remotes")
    local: set[str] = set()
    remote: set[str] = set()
    for ref in out.stdout.split():
        if ref.startswith("refs/heads/"):
            local.add(ref.removeprefix("refs/heads/"))
        elif ref.count("/") >= 3 and not ref.endswith("/HEAD"):
            remote.add(ref.split("/", 3)[3])
    return local, remote


def _unborn_head(root: Path) -> str | None:
    """The branch HEAD names while it has no commit yet, else None."""
    if git.run(root, "rev-parse", "--verify", "--quiet", "HEAD", check=False).returncode == 0:
        return None
    head = git.run(root, "symbolic-ref", "--quiet", "HEAD", check=False).stdout.strip()
    return head.removeprefix("refs/heads/") if head.startswith("refs/heads/") else None


def _on_a_remote(root: Path, base: str) -> bool:
    """Ask each remote (not fetched yet, perhaps); one that cannot be reached cannot say no."""
    for name in git.run(root, "remote", check=False).stdout.split():
        asked = git.run(root, "ls-remote", "--heads", name, f"refs/heads/{base}", check=False,
                        timeout=30)
        if asked.returncode != 0 or asked.stdout.strip():
            return True
    return False
