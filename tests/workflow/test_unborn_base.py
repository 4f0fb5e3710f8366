"""A run recorded before the base branch had a commit gets its branch when first planned."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import git


def test_deferred_branch_and_worktree_are_made_by_the_first_plan(tmp_path: Path, cli) -> None:
    repo = tmp_path / "fresh"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    assert cli("init", "--engine", "demo", cwd=repo).exit_code == 0
    assert cli("new", "first", "--task", "t", "--no-plan", cwd=repo).exit_code == 0
    assert git("branch", "--list", cwd=repo) == ""  # nothing made on an unborn base
    refused = cli("new", "second", "--task", "t", cwd=repo)  # planning needs a base commit
    assert refused.exit_code == 1 and "base branch 'main' has no commit yet" in refused.output

    (repo / "README.md").write_text("# fresh\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "first commit", cwd=repo)
    assert cli("plan", "0001-first", "--wait", cwd=repo).exit_code == 0
    assert git("rev-parse", "--verify", "-q", "refs/heads/0001-first", cwd=repo)
    assert (tmp_path / "fresh.worktrees" / "0001-first").is_dir()
    files = git("ls-tree", "-r", "--name-only", "0001-first", cwd=repo).splitlines()
    assert ".protocols/0001-first/plan.md" in files
