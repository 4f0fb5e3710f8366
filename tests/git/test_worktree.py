"""A run's worktree as this clone recorded it (decision 1530): found in the clone's own records,
refused when its `.git` was changed, and git run on it never through that file."""

from __future__ import annotations

from pathlib import Path

import pytest

from deksdenflow.errors import GitOperationError
from deksdenflow.git import local, runner
from deksdenflow.git.worktree import WorktreeTampered, check, locate
from tests.conftest import git, make_repo


def _linked(tmp_path: Path) -> tuple[Path, Path]:
    repo = make_repo(tmp_path / "repo")
    git("worktree", "add", "-q", "-b", "side", str(tmp_path / "wt"), cwd=repo)
    return repo, tmp_path / "wt"


def test_a_worktree_is_found_in_the_clones_own_records(tmp_path: Path) -> None:
    repo, wt = _linked(tmp_path)
    tree = locate(repo / ".git", wt)
    assert tree.git_dir == (repo / ".git" / "worktrees" / "wt").resolve()
    check(tree)
    with pytest.raises(GitOperationError, match="not a worktree this clone recorded"):
        locate(repo / ".git", tmp_path / "elsewhere")
    other = make_repo(tmp_path / "other")  # a repository, but not one of this clone's worktrees
    with pytest.raises(GitOperationError):
        locate(repo / ".git", other)


@pytest.mark.parametrize("tamper", ["repoint", "directory", "symlink"])
def test_a_changed_git_file_is_refused_and_git_still_uses_the_recorded_dir(
        tmp_path: Path, tamper: str) -> None:
    repo, wt = _linked(tmp_path)
    tree = locate(repo / ".git", wt)
    head = git("rev-parse", "HEAD", cwd=wt)
    fake = tmp_path / "fake.git"
    git("init", "-q", "--bare", str(fake), cwd=tmp_path)
    (wt / ".git").unlink()
    if tamper == "repoint":
        (wt / ".git").write_text(f"gitdir: {fake}\n")
    elif tamper == "directory":
        (wt / ".git").mkdir()
    else:
        (wt / ".git").symlink_to(fake)
    with pytest.raises(WorktreeTampered, match=r"\.git .*git worktree repair"):
        check(tree)
    # Named explicitly, the recorded git dir answers, whatever the `.git` says.
    assert runner.run(tree, "rev-parse", "HEAD").stdout.strip() == head
    assert local.head(tree) == head
