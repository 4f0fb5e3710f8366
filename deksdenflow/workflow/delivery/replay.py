"""Building the landed commit without touching any worktree: merge, squash or rebase.

The conflict check is `git merge-tree --write-tree` (git 2.38+); a rebase replays each commit
of the branch with pygit2's three-way tree merge, because `merge-tree --merge-base` needs git
2.40 (docs/decisions/1001-land.md).
"""

from __future__ import annotations

from pathlib import Path

from ...errors import DflowError, LandConflict
from ...git import runner
from ...git.replay import replay_commits
from ..checkouts.worktrees import COMMIT_IDENTITY, git

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


def without(root: Path, tree: str, path: str) -> str:
    """`tree` with the folder `path` (`.protocols/NNNN-name`) left out; `tree` itself when it
    has no such folder. A `.protocols/` left empty goes too: git keeps no empty folders."""
    parent, _, name = path.partition("/")
    top = _entries(root, tree)
    if parent not in top:
        return tree
    inner = _entries(root, top[parent].split()[2])
    if inner.pop(name, None) is None:
        return tree
    if inner:
        top[parent] = f"040000 tree {_mktree(root, inner)}"
    else:
        del top[parent]
    return _mktree(root, top)


def bare_commit(root: Path, tree: str, parent: str, message: str) -> str:
    """One commit of `tree` on `parent`, with dflow's stand-in identity when git has none."""
    identity = () if _has_identity(root) else COMMIT_IDENTITY
    return git(root, *identity, "commit-tree", tree, "-p", parent, "-m", message).stdout.strip()


def _entries(root: Path, tree: str) -> dict[str, str]:
    """name -> `mode type id` of one level of `tree` (`-z`: names as they are)."""
    listed = git(root, "ls-tree", "-z", tree).stdout.split("\0")
    return {line.split("\t", 1)[1]: line.split("\t", 1)[0] for line in listed if line}


def _mktree(root: Path, entries: dict[str, str]) -> str:
    text = "".join(f"{meta}\t{name}\0" for name, meta in entries.items())
    return runner.run(root, "mktree", "-z", input=text).stdout.strip()
