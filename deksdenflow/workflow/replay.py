"""Building the landed commit without touching any worktree: merge, squash or rebase.

The conflict check is `git merge-tree --write-tree` (git 2.38+); a rebase replays each commit
of the branch with pygit2's three-way tree merge, because `merge-tree --merge-base` needs git
2.40 (docs/decisions/1001-land.md).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DflowError, LandConflict
from ..git.replay import replay_commits
from .worktrees import COMMIT_IDENTITY, git

STRATEGIES = ("merge", "squash", "rebase")
__all__ = ["STRATEGIES", "LandConflict", "merge_tree"]


def merge_tree(root: Path, target: str, head: str) -> tuple[str, list[str]]:
    """(tree of the merge, conflicted files): files is empty when the merge is clean."""
    done = git(root, "merge-tree", "--write-tree", "--name-only", "--no-messages", target, head,
               check=False)
    lines = done.stdout.splitlines()
    if done.returncode not in (0, 1) or not lines:
        raise DflowError(f"`git merge-tree` could not merge (exit {done.returncode}): "
                         f"{done.stderr.strip() or 'no output'}; git 2.38 or newer is needed")
    return lines[0], sorted(dict.fromkeys(ln for ln in lines[1:] if ln.strip()))


def build(root: Path, strategy: str, target: str, head: str, tree: str, message: str) -> str:
    """The new tip of the base: a merge commit, one squashed commit, or the replayed commits."""
    if strategy == "rebase":
        return _replay(root, target, head)
    parents = ["-p", target] + (["-p", head] if strategy == "merge" else [])
    identity = () if _has_identity(root) else COMMIT_IDENTITY
    return git(root, *identity, "commit-tree", tree, *parents, "-m", message).stdout.strip()


def _replay(root: Path, target: str, head: str) -> str:
    listed = git(root, "rev-list", "--reverse", "--no-merges", f"{target}..{head}").stdout.split()
    return replay_commits(root, target, listed)


def _has_identity(root: Path) -> bool:
    return git(root, "config", "user.email", check=False).returncode == 0


def identity_note(root: Path, strategy: str) -> str:
    """What to say when the landed commit carries dflow's stand-in identity: a commit on the
    person's base is theirs, so they are told how to make it so ("" when git has one)."""
    if _has_identity(root):
        return ""
    what = "the replayed commits keep their authors but were committed" if strategy == \
        "rebase" else "the landed commit was made"
    return (f"{what} as 'dflow <dflow@localhost>' because git has no identity here; set yours "
            "with `git config --global user.name 'Your Name'` and `git config --global "
            "user.email you@example.com`")
