"""Step worktrees of a parallel run: each step on its own branch, cut from the run branch
once what it depends on is merged there (docs/decisions/1401-step-worktrees-and-branches.md).

The branch is `<run branch>.step-NN` and the worktree sits beside the run's as
`<run worktree>.step-NN`: `NNNN-name/step-NN` cannot exist next to the branch `NNNN-name`
(git keeps refs as files, so a ref cannot also be a folder).
"""

from __future__ import annotations

from pathlib import Path

from ...domain.runs.models import RunSnapshot
from ...errors import GitOperationError
from ...git import runner


def branch(snap: RunSnapshot, index: int) -> str:
    return f"{snap.run.branch or snap.run.id}.step-{index:02d}"


def path(snap: RunSnapshot, index: int) -> Path:
    return Path(f"{snap.run.worktree}.step-{index:02d}")


def ensure(repo: Path, snap: RunSnapshot, index: int) -> Path:
    """The step's worktree, made now from the run branch's tip when it does not exist (a
    retry finds its own). Only the job that holds the step's lane calls this. `repo`: the
    project's own checkout (never a worktree an agent works in)."""
    where, name = path(snap, index), branch(snap, index)
    if where.is_dir():
        return where
    if not Path(snap.run.worktree).is_dir():
        raise GitOperationError(
            f"the worktree of {snap.run.id} ({snap.run.worktree or 'none'}) is missing; "
            f"restore it with `git worktree add {snap.run.worktree or 'DIR'} {snap.run.branch}`")
    runner.run(repo, "worktree", "prune", check=False)
    exists = runner.run(repo, "rev-parse", "-q", "--verify", f"refs/heads/{name}",
                        check=False).returncode == 0
    if exists:
        runner.run(repo, "worktree", "add", "--quiet", str(where), name)
    else:
        runner.run(repo, "worktree", "add", "--quiet", "--no-track", "-b", name, str(where),
                   f"refs/heads/{snap.run.branch}")
    return where


def tip(repo: Path, snap: RunSnapshot, index: int) -> str | None:
    """The step branch's commit, or None when the branch is gone."""
    done = runner.run(repo, "rev-parse", "-q", "--verify",
                      f"refs/heads/{branch(snap, index)}^{{commit}}", check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def remove(repo: Path, snap: RunSnapshot, index: int) -> None:
    """Remove the step's worktree and branch once the run branch holds its work (idempotent)."""
    where = path(snap, index)
    if where.exists():
        runner.run(repo, "worktree", "remove", "--force", str(where), check=False)
    runner.run(repo, "worktree", "prune", check=False)
    runner.run(repo, "branch", "-D", branch(snap, index), check=False)
