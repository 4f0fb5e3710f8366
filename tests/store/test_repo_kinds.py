"""The store in a linked worktree and in a repository whose branch has no commit yet."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from deksdenflow.store import open_store
from tests.conftest import git, make_repo


def test_a_linked_worktree_shares_the_ref_and_the_lock(tmp_path: Path, cli) -> None:
    main = make_repo(tmp_path / "main")
    linked = tmp_path / "linked"
    git("worktree", "add", "-q", "-b", "feature", str(linked), cwd=main)
    assert cli("init", "--engine", "demo", cwd=linked).exit_code == 0
    assert cli("new", "from-linked", "--task", "t", "--no-plan", cwd=linked).exit_code == 0
    assert cli("new", "from-main", "--task", "t", "--no-plan", cwd=main).exit_code == 0
    ids = [r["id"] for r in json.loads(cli("status", "--json", cwd=linked).output)["runs"]]
    assert ids == ["0001-from-linked", "0002-from-main"]
    store = open_store(linked)
    assert store.git_dir == (main / ".git").resolve()
    assert Path(store.lock().lock_file).parent == (main / ".git" / "deksdenflow").resolve()
    assert not (main / ".git" / "worktrees" / "linked" / "deksdenflow").exists()
    # The settings were detected from the worktree's branch, and plain git sees one chain.
    assert git("show", "refs/deksdenflow/state:project.toml", cwd=main).count("feature") == 1
    assert git("rev-list", "--count", "refs/deksdenflow/state", cwd=main) == "3"


def test_a_repository_without_commits_works_and_keeps_its_branch_unborn(tmp_path: Path,
                                                                        cli) -> None:
    repo = tmp_path / "fresh"
    repo.mkdir()
    git("init", "-q", "-b", "trunk", cwd=repo)
    assert cli("init", cwd=repo).exit_code == 0
    assert cli("new", "first", "--task", "t", "--no-plan", cwd=repo).exit_code == 0
    runs = json.loads(cli("status", "--json", cwd=repo).output)["runs"]
    assert [(r["id"], r["status"]) for r in runs] == [("0001-first", "pending")]
    assert 'base_branch = "trunk"' in git("show", "refs/deksdenflow/state:project.toml", cwd=repo)
    head = subprocess.run(["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=repo,
                          capture_output=True, text=True)
    assert head.returncode != 0  # dflow did not commit to the user's branch
    assert git("log", "--format=%s", "refs/deksdenflow/state", cwd=repo).splitlines() == [
        "dflow: run.created 0001-first (+1 more)", "dflow: init"]


def test_a_bare_repository_can_hold_the_state(tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git("init", "-q", "--bare", str(bare), cwd=tmp_path)
    store = open_store(bare)
    assert store.initialize('schema_version = 1\n[project]\nname = "bare"\n')
    assert store.read().settings().project.name == "bare"
    assert store.git_dir == bare.resolve()
