"""`dflow clean`: remove the worktrees and local branches of landed or cancelled runs.

The state history is never rewritten. A branch with commits that are on no remote and not on
the base is kept (its worktree goes) unless forced (docs/decisions/1002-clean.md); a run not
finished is kept unless forced, and then cancelled first (docs/decisions/1572).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from ...context.project import Project
from ...domain.config.settings import ProjectSettings
from ...domain.runs.models import RunSnapshot
from ..lifecycle import controls
from ..lifecycle.runs import run_stage
from . import placement, step_worktrees
from .worktrees import git


class Cleaned(BaseModel):
    run: str
    worktree: str = ""
    branch: str = ""
    worktree_removed: bool = False
    branch_deleted: bool = False
    kept: str = ""
    cancelled: bool = Field(default=False, description="--force on a run that was not "
                            "finished: it was cancelled first")


class CleanReport(BaseModel):
    dry_run: bool
    runs: list[Cleaned]


def select(project: Project, refs: list[str], merged: bool, cancelled: bool) -> list[RunSnapshot]:
    """The runs named, else the merged and/or cancelled ones (both when neither flag is given)."""
    view = project.view()
    if refs:
        return [view.find_run(ref) for ref in refs]
    if not merged and not cancelled:
        merged = cancelled = True
    return [s for s in view.runs()
            if (merged and s.run.merged and not s.run.cancelled)
            or (cancelled and (s.run.cancelled or s.run.failed))]


def clean(project: Project, snaps: list[RunSnapshot], dry_run: bool = False,
          force: bool = False) -> CleanReport:
    return CleanReport(dry_run=dry_run, runs=[_one(project, s, dry_run, force) for s in snaps])


def _one(project: Project, snap: RunSnapshot, dry_run: bool, force: bool) -> Cleaned:
    run, root = snap.run, project.root
    if not placement.is_run_branch(snap, project.settings().project.base_branch):
        return Cleaned(run=run.id, kept=f"its branch {run.branch!r} is not a run branch "
                       "(NNNN-name); dflow deletes no other branch")
    path = placement.existing(project, snap)  # this clone's, never the recorded hint
    if path is not None:  # a parallel run's step worktrees sit beside this clone's
        snap = placement.localized(snap, path)
    run = snap.run
    has_tree = path is not None and path.is_dir()
    has_branch = bool(run.branch) and project.store.has_ref(
        f"refs/heads/{run.branch}")
    done = Cleaned(run=run.id, worktree=run.worktree if has_tree else "",
                   branch=run.branch if has_branch else "")
    if not (run.merged or run.cancelled or run.failed):
        if not force:
            done.kept = _why_kept(snap, project.settings())
            return done
        # Its worktree and branch are going: the run is abandoned, not left "ready to land"
        # (or running) on work that no longer exists (decision 1572).
        done.cancelled = True
        if not dry_run:
            controls.cancel(project, run.uid, reason="cleaned with --force")
    if has_branch and not force and not run.merged:  # a squash or rebase landing is merged too
        unsafe = _unsafe_commits(root, run.branch, run.base)
        if unsafe:  # the worktree goes; the branch holds the only copy of that work
            has_branch = False
            done.branch = ""
            done.kept = (f"branch {run.branch}: {unsafe} commit{'s' if unsafe != 1 else ''} "
                         f"on no remote and not merged into {run.base}; push it, or "
                         f"`dflow clean {run.id} --force` deletes it")
    if dry_run:
        done.worktree_removed, done.branch_deleted = has_tree, has_branch
        return done
    if has_tree and (run.merged or force):  # a parallel run's step worktrees and branches
        for step in snap.steps:
            step_worktrees.remove(root, snap, step.index)
    if has_tree and path is not None:
        removed = git(root, "worktree", "remove", *(["--force"] if force else []), str(path),
                      check=False)
        if removed.returncode != 0:
            done.kept = (f"{path} has uncommitted or untracked files; commit or remove them, "
                         "or --force discards them")
            done.branch = ""
            return done
        done.worktree_removed = True
    git(root, "worktree", "prune", check=False)
    if has_branch:
        git(root, "branch", "-D", run.branch)
        done.branch_deleted = True
    return done


def _why_kept(snap: RunSnapshot, settings: ProjectSettings) -> str:

    run = snap.run
    if run.status.value == "completed":
        return (f"it is ready to land; `dflow land {run.id}`, or `dflow cancel {run.id}` to "
                "abandon it first")
    return (f"it is {run_stage(snap, settings)}; `dflow cancel {run.id}` first, or --force "
            "cancels it and removes its work")


def _unsafe_commits(root: Path, branch: str, base: str) -> int:
    """How many of the branch's commits are neither on a remote (a branch there, or the
    run's published work: decision 1500) nor on the base."""
    exclude = ["--remotes", "--glob=refs/deksdenflow/remotes/*/work/*"]
    if git(root, "rev-parse", "--verify", "--quiet", f"refs/heads/{base}",
           check=False).returncode == 0:
        exclude.append(f"refs/heads/{base}")
    listed = git(root, "rev-list", "--count", f"refs/heads/{branch}", "--not", *exclude).stdout
    return int(listed.strip() or 0)
