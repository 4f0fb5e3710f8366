"""Who changed project.toml on the state ref, and in which commit (for `dflow trust`).

A sync merge takes the other side's project.toml, so a merge commit is never the author of a
change: only commits with one parent (or none) are, as they were written on some clone.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import pygit2

from ..encoding.layout import PROJECT_FILE, STATE_REF

MAX_COMMITS = 20_000  # a bound on one look back; older changes are told as unknown


@dataclass(frozen=True)
class SettingsChange:
    """One commit that changed project.toml: who wrote it (the commit's author, dflow's actor
    `user@host`), the texts before and after."""

    commit: str
    author: str
    at: int  # commit time, seconds since the epoch
    before: str
    after: str


def changes(repo: pygit2.Repository, since: str = "") -> list[SettingsChange]:
    """The commits on the state ref, newest first, that changed project.toml and are not
    reachable from `since` (the commit last trusted; empty or unknown: the whole history).
    The walk runs libgit2 without the GIL: on a Repository of its own, never the store's,
    whose in-memory object backend is Python (docs/decisions/1324)."""
    repo = pygit2.Repository(repo.path)
    ref = repo.references.get(STATE_REF)
    if ref is None:
        return []
    walker = repo.walk(ref.target, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME)
    if since:
        # not here (a record from another history): look at everything
        with contextlib.suppress(ValueError, KeyError, pygit2.GitError):
            walker.hide(pygit2.Oid(hex=since))
    found: list[SettingsChange] = []
    for seen, commit in enumerate(walker):
        if seen >= MAX_COMMITS:
            break
        if len(commit.parent_ids) > 1:
            continue
        after = _blob_id(commit)
        before = _blob_id(commit.parents[0]) if commit.parent_ids else None
        if after == before:
            continue
        found.append(SettingsChange(str(commit.id), commit.author.email, commit.commit_time,
                                    _text(repo, before), _text(repo, after)))
    return found


def _blob_id(commit: pygit2.Commit) -> pygit2.Oid | None:
    try:
        return commit.tree[PROJECT_FILE].id
    except KeyError:
        return None


def _text(repo: pygit2.Repository, oid: pygit2.Oid | None) -> str:
    if oid is None:
        return ""
    blob = repo[oid]
    assert isinstance(blob, pygit2.Blob)
    return blob.data.decode("utf-8", errors="replace")
