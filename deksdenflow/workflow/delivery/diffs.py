"""The change of a run (against its merge base) or of one step (its commit), through git's diff."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pydantic import BaseModel, Field

from ...context.project import Project
from ...domain.runs.models import RunSnapshot
from ...errors import DflowError, GitOperationError
from ...git import runner
from ..checkouts import placement
from ..checkouts.worktrees import git


class FileChange(BaseModel):
    path: str
    added: int | None = Field(description="lines added; None for a binary file")
    deleted: int | None = Field(description="lines deleted; None for a binary file")


class Diff(BaseModel):
    """What `dflow diff` shows: the range, the files with their line counts, and the patch."""

    run: str
    step: int | None = None
    base: str = Field(description="the commit the change is measured from")
    head: str = Field(description="the commit the change ends at")
    files: list[FileChange] = Field(default_factory=list)
    patch: str = ""

    @property
    def range(self) -> str:
        return f"{self.base}..{self.head}"


def base_ref(project: Project, base: str) -> str:
    """The base branch as the remote last showed it when there is one, else the local branch."""
    remote = project.settings().project.remote
    for ref in (f"refs/remotes/{remote}/{base}", f"refs/heads/{base}"):
        if project.store.has_ref(ref):
            return ref
    raise GitOperationError(f"base branch '{base}' does not exist here; `git fetch` it first")


def change_range(project: Project, snap: RunSnapshot, step: int | None = None) -> tuple[str, str]:
    """(from, to): a step's commit against its parent, or the branch against the merge base."""
    run = snap.run
    placement.bring_branch(project, snap)  # another clone's work is fetched first
    if not project.store.has_ref(f"refs/heads/{run.branch}"):
        raise GitOperationError(f"{run.id} has no branch '{run.branch}' here; plan it first")
    if step is not None:
        found = snap.step(step)
        if found is None:
            known = ", ".join(f"{s.index:02d}" for s in snap.steps) or "none yet"
            raise DflowError(f"{run.id} has no step {step} (steps: {known})")
        if not found.commit:
            raise DflowError(f"step {step:02d} of {run.id} has no commit yet "
                             f"({found.status.value}); nothing to show")
        return f"{found.commit}^", found.commit
    head = git(project.root, "rev-parse", f"refs/heads/{run.branch}").stdout.strip()
    start = git(project.root, "merge-base", base_ref(project, run.base), head, check=False)
    if start.returncode != 0:
        raise GitOperationError(f"{run.branch} shares no history with {run.base}")
    return start.stdout.strip(), head


def diff(project: Project, snap: RunSnapshot, step: int | None = None,
         patch: bool = True) -> Diff:
    """The change as a model: per-file line counts and (unless `patch` is False) the patch."""
    start, end = change_range(project, snap, step)
    base = git(project.root, "rev-parse", start).stdout.strip()
    numstat = git(project.root, "diff", "--no-renames", "--numstat", "-z", base, end).stdout
    files = []
    for entry in numstat.split("\0"):
        if not entry.strip():
            continue
        added, deleted, path = entry.split("\t", 2)
        files.append(FileChange(path=path, added=None if added == "-" else int(added),
                                deleted=None if deleted == "-" else int(deleted)))
    text = git(project.root, "diff", "--no-color", "--no-renames", base, end).stdout if patch \
        else ""
    return Diff(run=snap.run.id, step=step, base=base, head=end, files=files, patch=text)


def page(project: Project, found: Diff, stat: bool) -> int:
    """Hand the terminal to `git diff` itself: its pager, its colours, the user's settings
    (the runner's safe options too; only the standard streams are the terminal's)."""
    argv = runner.command(["diff", "--no-renames"])
    if stat:
        argv.append("--stat")
    done = subprocess.run([*argv, found.base, found.head], cwd=Path(project.root),
                          env=runner.clean_env(english=False))
    return done.returncode
