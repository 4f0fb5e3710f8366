"""`dflow demo`: a scratch repository taken through a whole protocol by the demo engine."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ...context.project import Project
from ...errors import UsageError
from ..checkouts import worktrees

DEMO_RUN = "greeting"
DEMO_TASK = "Add a greet() function with a test and a README example"
README = "# shop\n\nA scratch repository made by `dflow demo`.\n"


def scratch_dir(keep: Path | None) -> Path:
    """`keep` (must be absent or empty) or a fresh temporary directory."""
    if keep is None:
        return Path(tempfile.mkdtemp(prefix="dflow-demo-"))
    keep = keep.expanduser().resolve()
    if keep.exists() and (not keep.is_dir() or any(keep.iterdir())):
        raise UsageError(f"{keep} exists and is not empty; give --keep a new directory")
    keep.mkdir(parents=True, exist_ok=True)
    return keep


def make_repo(where: Path) -> Path:
    """A real repository on branch main with one commit (the demo's 'user project')."""
    repo = where / "shop"
    repo.mkdir()
    worktrees.git(repo, "init", "--quiet", "--initial-branch=main")
    (repo / "README.md").write_text(README)
    worktrees.git(repo, "add", "-A")
    worktrees.git(repo, *worktrees.COMMIT_IDENTITY, "commit", "--quiet", "-m", "initial commit")
    return repo


PARALLEL_SETTINGS = {"plan.parallel": "true",
                     # each demo call takes a moment, so the two branches visibly overlap
                     "engines.demo.options": "{delay_s = 0.3}"}


def go_parallel(project: Project) -> None:
    """`dflow config set plan.parallel true` (and a slower demo agent) for `dflow demo
    --parallel`."""
    project.set_settings(PARALLEL_SETTINGS, kinds=())


def discard(where: Path) -> None:
    shutil.rmtree(where, ignore_errors=True)
