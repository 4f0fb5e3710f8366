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

from dataclasses import dataclass
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
    import pygit2  # why: start-up

    try:
        if isinstance(path, Worktree):
            return pygit2.Repository(str(path.git_dir),
                                     pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
        return pygit2.Repository(str(path))
    except (pygit2.GitError, KeyError, OSError, ValueError):
        return None


def head(worktree: Where) -> str | None:
    """The commit `git rev-parse --verify HEAD` names in `worktree` (None: ask git)."""
    import pygit2  # why: start-up

    repo = _open(worktree)
    if repo is None:
        return None
    try:
        target = repo.head.target
    except (pygit2.GitError, KeyError, ValueError):
        return None  # unborn, broken: git says what is wrong
    # Like `rev-parse --verify HEAD`, the id the ref holds (git does not look the object up).
    return str(target) if isinstance(target, pygit2.Oid) else None


def ref_target(path: Where, ref: str) -> str | None:
    """The commit id `ref` holds in the repository at `path` (None: no such ref, or ask git)."""
    import pygit2  # why: start-up

    repo = _open(path)
    if repo is None:
        return None
    try:
        found = repo.references.get(ref)
        target = found.resolve().target if found is not None else None
    except (pygit2.GitError, KeyError, ValueError):
        return None
    return str(target) if isinstance(target, pygit2.Oid) else None


def on_branch(path: Where) -> bool | None:
    """`git symbolic-ref -q HEAD` succeeds: HEAD names a branch (born or not), it is not
    detached (None: ask git)."""
    import pygit2  # why: start-up

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
    import pygit2  # why: start-up

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
    import pygit2  # why: start-up

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


@dataclass
class FilePatch:
    """One changed file of a commit as QA sees it (docs/decisions/1540-qa-sees-every-change.md)."""

    path: str
    added: int | None = None  # None: not counted (binary, too large)
    deleted: int | None = None
    patch: str = ""  # git's patch format; "" with a note instead
    note: str = ""  # "binary", "3,001 bytes: too large to show, not read", ...


def file_patches(cwd: Where, commit: str, max_blob: int,
                 ) -> tuple[str, list[FilePatch]] | None:
    """The commit's subject (git's `%s`) and each file it changes against its first parent
    (the empty tree for a root commit), its patch made from the blobs themselves: no
    `.gitattributes` (`-diff`, `binary`), diff driver or textconv decides what is text; a NUL
    in the first 8,000 bytes does, as git's own test. A blob over `max_blob` bytes is
    measured from its object header, never read. None when libgit2 cannot open or resolve
    it."""
    import pygit2  # why: start-up

    repo = _open(cwd)
    if repo is None or len(commit) != 40:
        return None
    try:
        found = repo[commit].peel(pygit2.Commit)
        base = found.parents[0].tree if found.parents else None
        diff = (base.diff_to_tree(found.tree) if base is not None
                else found.tree.diff_to_tree(swap=True))
        sizes = {d.new_file.id: _size(repo, d.new_file.id) for d in diff.deltas}
        sizes |= {d.old_file.id: _size(repo, d.old_file.id) for d in diff.deltas}
        if max(sizes.values(), default=0) <= max_blob:
            diff.find_similar()  # renames read both blobs: only when every one is small
        return (_subject(found.message),
                [_file_patch(repo, d, sizes, max_blob) for d in diff.deltas])
    except (KeyError, ValueError, pygit2.GitError):
        return None


def _is_zero(oid: pygit2.Oid) -> bool:
    return not any(oid.raw)


def _size(repo: pygit2.Repository, oid: pygit2.Oid) -> int:
    if _is_zero(oid):
        return 0
    try:
        return int(repo.odb.read_header(oid)[1])
    except (KeyError, ValueError):
        return 0  # a gitlink names a commit of another repository


def _file_patch(repo: pygit2.Repository, delta: pygit2.DiffDelta, sizes: dict[pygit2.Oid, int],
                max_blob: int) -> FilePatch:
    import pygit2  # why: start-up

    old, new = delta.old_file, delta.new_file
    path = new.path if old.path == new.path else f"{old.path} => {new.path}"
    if pygit2.enums.FileMode.COMMIT in (old.mode, new.mode):
        return FilePatch(path, note=f"submodule (gitlink) now at {str(new.id)[:12]}")
    big = max(sizes.get(old.id, 0), sizes.get(new.id, 0))
    if big > max_blob:
        return FilePatch(path, note=f"{big:,} bytes: too large to show here, not read")
    sides = [None if _is_zero(f.id) else repo[f.id].peel(pygit2.Blob).data for f in (old, new)]
    if any(b"\0" in data[:8000] for data in sides if data):
        return FilePatch(path, note="binary")
    made = pygit2.Patch.create_from(
        sides[0], sides[1], old_as_path=old.path, new_as_path=new.path,
        flag=pygit2.enums.DiffOption.FORCE_TEXT)
    _, added, deleted = made.line_stats
    text = made.data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    if old.mode != new.mode and old.mode and new.mode:
        text = f"(mode {old.mode:o} -> {new.mode:o})\n{text}"
    return FilePatch(path, added, deleted, text)


def changed_paths(cwd: Where, before: str, after: str, paths: list[str]) -> list[str] | None:
    """The `paths` whose entry (content or mode; present or not) differs between the trees of
    two commits, compared by object id, nothing read (None: ask git)."""
    import pygit2  # why: start-up

    repo = _open(cwd)
    if repo is None:
        return None
    try:
        trees = [repo[c].peel(pygit2.Commit).tree for c in (before, after)]
    except (KeyError, ValueError, pygit2.GitError):
        return None

    def entry(tree: pygit2.Tree, path: str) -> tuple[str, int] | None:
        try:
            obj = tree[path]
        except KeyError:
            return None
        return str(obj.id), int(obj.filemode or 0)

    return [p for p in paths if entry(trees[0], p) != entry(trees[1], p)]
