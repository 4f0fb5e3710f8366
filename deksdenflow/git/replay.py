"""Replaying commits onto another with libgit2's three-way tree merge, touching no worktree
(`dflow land --strategy rebase`; `merge-tree --merge-base` needs git 2.40, decision 1001)."""

from __future__ import annotations

from pathlib import Path

import pygit2

from ..errors import LandConflict


def replay_commits(root: Path, target: str, commits: list[str]) -> str:
    """Each of `commits` (oldest first) re-made on top of `target`; the new tip.
    LandConflict names the files when one of them does not apply."""
    repo = pygit2.Repository(str(root))
    onto = repo[target].peel(pygit2.Commit)
    me = _signature(repo)
    for oid in commits:
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
