"""What git shows about the code branches, for the services (which never see pygit2)."""

from __future__ import annotations

import pygit2

from .repo import Store


def is_merged(store: Store, branch: str, base_ref: str, markers: list[str]) -> bool:
    """Is `branch`'s work in `base_ref`? Yes when the base holds one of the `markers` (files
    a squash or rebase merge carries along), or the branch tip — holding a marker, so it has
    work — is an ancestor of the base."""
    repo = store.repo
    base = _tip(repo, base_ref)
    if base is None:
        return False
    if _holds(base.tree, markers):
        return True
    tip = _tip(repo, f"refs/heads/{branch}")
    if tip is None or tip.id == base.id or not _holds(tip.tree, markers):
        return False  # a branch with no work yet is not "merged" by being behind
    return bool(repo.descendant_of(base.id, tip.id))


def _holds(tree: pygit2.Tree, markers: list[str]) -> bool:
    for path in markers:
        try:
            if isinstance(tree[path], pygit2.Blob):
                return True
        except KeyError:
            continue
    return False


def _tip(repo: pygit2.Repository, name: str) -> pygit2.Commit | None:
    ref = repo.references.get(name)
    if ref is None:
        return None
    try:
        return ref.peel(pygit2.Commit)
    except (pygit2.GitError, ValueError):
        return None


def committed_file(store: Store, branch: str, path: str, at: str | None = None) -> bytes | None:
    """A file as committed at `at` (the run's recorded tip, when this clone has it: another
    clone may have made it), else on a local (else remote-tracking) branch; None when absent."""
    commit = _commit(store.repo, at) if at else None
    if commit is not None:
        return _blob_at(commit, path)
    for name in (f"refs/heads/{branch}", *_remote_names(store, branch)):
        ref = store.repo.references.get(name)
        if ref is not None:
            return _blob_at(ref.peel(pygit2.Commit), path)
    return None


def file_at(store: Store, commit: str, path: str) -> bytes | None:
    """A file as `commit` holds it (a run's plan commit); None when absent or unknown here."""
    found = _commit(store.repo, commit)
    return _blob_at(found, path) if found is not None else None


def _blob_at(commit: pygit2.Commit, path: str) -> bytes | None:
    try:
        obj = commit.tree[path]
    except KeyError:
        return None
    return obj.data if isinstance(obj, pygit2.Blob) else None


def _commit(repo: pygit2.Repository, commit_id: str) -> pygit2.Commit | None:
    try:
        found = repo.get(commit_id)
    except (ValueError, pygit2.GitError):
        return None
    return found if isinstance(found, pygit2.Commit) else None


def _remote_names(store: Store, branch: str) -> list[str]:
    return [f"refs/remotes/{remote}/{branch}" for remote in store.repo.remotes.names()]
