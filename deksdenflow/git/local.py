"""Reads of a worktree's HEAD (and whether it names a branch), its common git dir, a committed
file and a commit's diff, in-process through libgit2 instead of a git process each
(docs/decisions/1330-step-reads-in-process.md, 1332-the-qa-diff-in-process.md).

libgit2 runs no hooks, no fsmonitor and no other program the repository names, and reads no
GIT_* environment when it opens a repository, so these answer what `git rev-parse`,
`git symbolic-ref`, `git cat-file` and `git show` would in the clean environment of `runner`.
Whatever libgit2 cannot open or resolve returns None, and the caller asks the git CLI, whose
error (or answer) stands.
pygit2 is imported on first use: commands that never read a worktree do not pay for it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from .worktree import Worktree

if TYPE_CHECKING:
    import pygit2

Where: TypeAlias = "Path | Worktree"


def _open(path: Where) -> pygit2.Repository | None:
    """A run's worktree opens on the git dir this clone recorded for it, never through its
    `.git` file (docs/decisions/1530-dflow-git-on-recorded-gitdirs.md)."""
    import pygit2

    try:
        if isinstance(path, Worktree):
            return pygit2.Repository(str(path.git_dir),
                                     pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
        return pygit2.Repository(str(path))
    except (pygit2.GitError, KeyError, OSError, ValueError):
        return None


def head(worktree: Where) -> str | None:
    """The commit `git rev-parse --verify HEAD` names in `worktree` (None: ask git)."""
    import pygit2

    repo = _open(worktree)
    if repo is None:
        return None
    try:
        target = repo.head.target
    except (pygit2.GitError, KeyError, ValueError):
        return None  # unborn, broken: git says what is wrong
    # Like `rev-parse --verify HEAD`, the id the ref holds (git does not look the object up).
    return str(target) if isinstance(target, pygit2.Oid) else None


def on_branch(path: Where) -> bool | None:
    """`git symbolic-ref -q HEAD` succeeds: HEAD names a branch (born or not), it is not
    detached (None: ask git)."""
    import pygit2

    repo = _open(path)
    if repo is None:
        return None
    try:
        return not repo.head_is_detached
    except (pygit2.GitError, KeyError, ValueError):
        return None


def common_dir(worktree: Where) -> Path | None:
    """`git rev-parse --git-common-dir` of `worktree`, absolute (None: ask git): a linked
    worktree's git dir names the main one in its `commondir` file."""
    repo = _open(worktree)
    if repo is None:
        return None
    git_dir = Path(repo.path)
    try:
        named = (git_dir / "commondir").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return git_dir
    except OSError:
        return None
    return (git_dir / named).resolve() if named else None


def blob_text(cwd: Where, commit: str, path: str) -> str | None:
    """The text `git cat-file blob COMMIT:PATH` prints (decoded as the runner decodes git's
    output), or None when libgit2 cannot tell (git then answers). A full commit id names the
    same tree forever, so the answer is cached: a step's execute and QA read the same files."""
    if len(commit) != 40 or not all(c in "0123456789abcdef" for c in commit):
        return None  # only a full id is immutable; a name is for git to resolve
    return _blob(cwd if isinstance(cwd, Worktree) else str(cwd), commit, path)


@lru_cache(maxsize=64)  # a few runs' plan.md, context.md and step files
def _blob(cwd: str | Worktree, commit: str, path: str) -> str | None:
    import pygit2

    repo = _open(cwd if isinstance(cwd, Worktree) else Path(cwd))
    if repo is None:
        return None
    try:
        tree = repo[commit].peel(pygit2.Commit).tree
        obj = tree[path] if path else None
    except (KeyError, ValueError, TypeError, pygit2.GitError):
        return None
    if not isinstance(obj, pygit2.Blob):
        return None
    # subprocess's text mode: utf-8 with replacement, then universal newlines.
    text = obj.data.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def show(cwd: Where, commit: str) -> str | None:
    """What `git show --stat -p --format='commit %H%n%s%n' COMMIT` prints for a commit with one
    parent: the header, `---`, the diffstat, and the patch with renames found as git's
    `diff.renames` default finds them (None: ask git — a merge, a root commit, a short id).
    The patch is git's format byte for byte; the diffstat's padding may differ."""
    import pygit2

    if len(commit) != 40:
        return None
    repo = _open(cwd)
    if repo is None:
        return None
    try:
        found = repo[commit].peel(pygit2.Commit)
        if len(found.parents) != 1:
            return None
        diff = found.parents[0].tree.diff_to_tree(found.tree)
        diff.find_similar()
        if not diff.stats.files_changed:
            return None
        stat = diff.stats.format(pygit2.enums.DiffStatsFormat.FULL, 80)
        patch = diff.patch or ""
    except (KeyError, ValueError, pygit2.GitError):  # a UnicodeDecodeError too
        return None
    text = f"commit {found.id}\n{_subject(found.message)}\n\n---\n{stat}\n{patch}"
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _subject(message: str) -> str:
    """git's `%s`: the message's first paragraph, its lines joined with spaces."""
    lines = message.strip("\n").split("\n")
    first = []
    for line in lines:
        if not line.strip():
            break
        first.append(line.strip())
    return " ".join(first)
