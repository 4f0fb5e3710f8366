"""A commit is recorded as a run's work only when it is on the run's branch here.

A worktree folder that belongs to another clone (a path from the shared state, a teammate's
pushed `worktree`) makes the agent commit into that clone's repository: the commit id comes
back, but this repository's branch does not have it. Recording it would make the state name
work that no branch holds — yet the run would read "ready to land" (issue 22 part 4)."""

from __future__ import annotations

from pathlib import Path

from ...errors import GitOperationError
from ...git import local, runner


def check_on_branch(root: Path, commit: str | None, branch: str, what: str) -> None:
    """Refuse `commit` unless `refs/heads/<branch>` of the repository at `root` contains it."""
    if not commit:
        return
    if local.ref_target(root, f"refs/heads/{branch}") == commit:
        return  # the branch's tip, as a step's commit is: no git process needed
    done = runner.run(root, "merge-base", "--is-ancestor", commit, f"refs/heads/{branch}",
                      check=False)
    if done.returncode != 0:
        raise GitOperationError(
            f"the {what} commit {commit[:12]} is not on branch {branch} of {root}, so it is not "
            f"recorded: the worktree the agent worked in is not this repository's; "
            f"`git worktree list` shows where {branch} is checked out")
