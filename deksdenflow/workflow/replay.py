"""Building the landed commit without touching any worktree: merge, squash or rebase.

The conflict check is `git merge-tree --write-tree` (git 2.38+); a rebase replays each commit
of the branch with pygit2's three-way tree merge, because `merge-tree --merge-base` needs git
2.40 (docs/decisions/1001-land.md).
"""

from __future__ import annotations

from pathlib import Path

import pygit2

from ..errors import DflowError
from .worktrees import COMMIT_IDENTITY, git

STRATEGIES = ("merge", "squash", "rebase")


class LandConflict(DflowError):
    """The base moved under the run in a conflicting way; the files are named."""

    def __init__(self, message: str, files: list[str]) -> None:
        super().__init__(message)
        self.files = files


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
    repo = pygit2.Repository(str(root))
    listed = git(root, "rev-list", "--reverse", "--no-merges", f"{target}..{head}").stdout.split()
    onto = repo[target].peel(pygit2.Commit)
    me = _signature(repo)
    for oid in listed:
        commit = repo[oid].peel(pygit2.Commit)
        parent = (commit.parents[0].tree if commit.parents
                  else repo[repo.TreeBuilder().write()].peel(pygit2.Tree))
        index = repo.merge_trees(parent, onto.tree, commit.tree)
        if index.conflicts is not None:
            files = sorted({e.path for entry in index.conflicts for e in entry if e is not None})
            raise LandConflict(f"replaying {str(commit.id)[:9]} ({commit.message.strip()[:60]}) "
                               f"onto the base conflicts in: {', '.join(files)}", files)
        new_tree = index.write_tree(repo)
        new = repo.create_commit(None, commit.author, me, commit.message, new_tree, [onto.id])
        onto = repo[new].peel(pygit2.Commit)
    return str(onto.id)


def _signature(repo: pygit2.Repository) -> pygit2.Signature:
    try:
        return repo.default_signature
    except (KeyError, pygit2.GitError):
        return pygit2.Signature("dflow", "dflow@localhost")


def _has_identity(root: Path) -> bool:
    return git(root, "config", "user.email", check=False).returncode == 0
