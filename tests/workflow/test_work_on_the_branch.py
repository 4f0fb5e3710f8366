"""A commit that is not on the run's branch is never recorded as the run's work: a worktree
folder that is another clone's checkout (as a path read from shared state would be) makes
the agent commit there, and the attempt fails instead (issue 22 part 4)."""

from __future__ import annotations

import shutil
from pathlib import Path

from deksdenflow.context.project import Project
from deksdenflow.domain.runs.models import JobKind
from deksdenflow.jobs import runner
from deksdenflow.workflow.lifecycle import runs
from tests.conftest import git


def _swap_for_a_foreign_checkout(project: Project, worktree: Path, branch: str,
                                 tmp_path: Path) -> Path:
    """Replace the run's worktree folder by a checkout of the same branch name in another
    repository (a clone of this one)."""
    other = tmp_path / "other-clone"
    git("clone", "-q", str(project.root), str(other), cwd=tmp_path)
    git("worktree", "remove", "--force", str(worktree), cwd=project.root)
    shutil.rmtree(worktree, ignore_errors=True)
    git("worktree", "add", "-q", "-b", branch, str(worktree), cwd=other)
    return other


def test_a_plan_committed_in_another_clones_checkout_is_not_recorded(
        project: Project, tmp_path: Path) -> None:
    snap = runs.create_run(project, "greet", "a greeting")
    foreign = _swap_for_a_foreign_checkout(project, Path(snap.run.worktree), snap.run.branch,
                                           tmp_path)
    job = next(j for j in project.view().open_jobs() if j.kind == JobKind.PLAN)
    done = runner.attempt(project, job, "w-test")
    # Placement refuses the folder before the agent runs (decision 1501); the branch check
    # (1521) stands behind it for a commit made anyway. Either way nothing is recorded.
    assert not done.ok
    assert ("is not this clone's worktree of 0001-greet" in (done.error or "")
            or "is not on branch 0001-greet" in (done.error or ""))
    assert git("rev-list", "--count", "main..0001-greet", cwd=foreign) in ("0", "1")
    assert git("rev-list", "--count", "main..0001-greet", cwd=project.root) == "0"
    assert not project.view().run(snap.run.uid).run.planned
