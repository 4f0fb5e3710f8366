"""A run's worktree as this clone recorded it: its folder and its git dir, found in the clone's
own `<common dir>/worktrees/<name>/gitdir` records, never through the worktree's `.git` file,
which the agent working there can rewrite (docs/decisions/1530-dflow-git-on-recorded-gitdirs.md).

Every git command dflow runs on a worktree names both explicitly (`--git-dir`, `--work-tree`;
pygit2 opens the recorded git dir), so a `.git` file pointed at a git dir the agent built, or a
nested repository the agent made, is never entered. `check` refuses a worktree whose `.git`
the agent changed before any git command runs there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import GitOperationError


class WorktreeTampered(GitOperationError):
    """The worktree's `.git` no longer names the git dir this clone recorded for it."""

    permanent = True


@dataclass(frozen=True)
class Worktree:
    """A linked worktree and the git dir this clone recorded for it."""

    path: Path
    git_dir: Path

    def __truediv__(self, other: str | os.PathLike[str]) -> Path:
        return self.path / other

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)


def locate(common_dir: Path, path: Path) -> Worktree:
    """The worktree at `path` as `common_dir` records it (`git worktree list`'s source), or
    GitOperationError when this clone has no worktree there."""
    folder = Path(os.path.abspath(path))
    wanted = {_real(folder / ".git"), str(folder / ".git")}
    records = common_dir / "worktrees"
    try:
        names = sorted(os.listdir(records))
    except OSError:
        names = []
    for name in names:
        try:
            named = (records / name / "gitdir").read_text(encoding="utf-8").strip()
        except OSError:
            continue
        target = named if os.path.isabs(named) else str(records / name / named)
        if target in wanted or _real(Path(target)) in wanted:
            return Worktree(folder, (records / name).resolve())
    raise GitOperationError(
        f"{folder} is not a worktree this clone recorded (`git worktree list` does not list "
        f"it); dflow runs git only in worktrees it made: `git worktree prune`, then retry")


def check(tree: Worktree) -> None:
    """Refuse (WorktreeTampered, naming the file) a worktree whose `.git` is not the file
    that names its recorded git dir: the agent re-pointed or replaced it."""
    dot_git = tree.path / ".git"
    if dot_git.is_symlink() or not dot_git.is_file():
        raise WorktreeTampered(_tampered(dot_git, "is no longer the file git wrote"))
    try:
        text = dot_git.read_bytes()[:4096].decode("utf-8").strip()
    except (OSError, UnicodeDecodeError):
        raise WorktreeTampered(_tampered(dot_git, "cannot be read")) from None
    named = text.removeprefix("gitdir:").strip() if text.startswith("gitdir:") else ""
    target = Path(named) if os.path.isabs(named) else tree.path / named
    if not named or _real(target) != _real(tree.git_dir):
        raise WorktreeTampered(_tampered(dot_git, "names another git dir"))


def _tampered(dot_git: Path, what: str) -> str:
    return (f"{dot_git} {what} (the agent changed it); dflow ran no git command there: "
            f"inspect the worktree, restore the file with `git worktree repair {dot_git.parent}`, "
            "then retry the step")


def _real(path: Path) -> str:
    return os.path.realpath(path)
