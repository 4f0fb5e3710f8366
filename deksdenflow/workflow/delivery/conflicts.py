"""Conflicts seen coming: which running or finished-but-unmerged steps of a parallel run touch
the same files (from their diffs so far), and whether git would really conflict
(`git merge-tree --write-tree`, which merges without touching any worktree or ref).
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

from pydantic import BaseModel

from ...context.project import Project
from ...domain.runs import graph
from ...domain.runs.models import RunSnapshot, StepRun, StepStatus
from ...errors import GitOperationError
from ...git import runner
from ...git.worktree import check
from ..checkouts import step_worktrees, worktrees

ACTIVE = {StepStatus.RUNNING, StepStatus.NEEDS_QA, StepStatus.COMPLETED, StepStatus.FAILED,
          StepStatus.BLOCKED}


class ConflictRisk(BaseModel):
    """Two steps that touch the same files; `conflict`: git says their merge conflicts."""

    steps: list[int]
    files: list[str]
    conflict: bool = False


def touched(project: Project, snap: RunSnapshot, step: StepRun) -> set[str]:
    """Files the step changed since its branch was cut: committed, staged, in the worktree
    and untracked (what its agent has done so far). Its agent may be at work there: git runs
    on the recorded git dir, and not at all when the `.git` file was changed."""
    path = step_worktrees.path(snap, step.index)
    if not path.is_dir():
        return set()
    try:
        where = worktrees.located(project, path)
        check(where)
    except GitOperationError:
        return set()
    base = runner.run(where, "merge-base", "HEAD", f"refs/heads/{snap.run.branch}",
                      check=False).stdout.strip()
    if not base:
        return set()
    changed = runner.run(where, "diff", "--name-only", "-z", base, check=False).stdout
    untracked = runner.run(where, "ls-files", "--others", "--exclude-standard", "-z",
                           check=False).stdout
    return {p for p in (changed + untracked).split("\0") if p}


def merge_conflicts(repo: Path, ours: str, theirs: str) -> list[str] | None:
    """The files a merge of the two commits would leave in conflict ([] if clean); None when
    git cannot tell (no merge base, an old git without --write-tree)."""
    done = runner.run(repo, "merge-tree", "--write-tree", "--name-only", "--no-messages",
                      ours, theirs, check=False)
    if done.returncode == 0:
        return []
    if done.returncode != 1:
        return None
    return sorted(line for line in done.stdout.splitlines()[1:] if line)


def risks(project: Project, snap: RunSnapshot) -> list[ConflictRisk]:
    """Pairs of active, unmerged steps of a parallel run that touch the same files."""
    if not snap.run.parallel or not Path(snap.run.worktree).is_dir():
        return []
    active = [s for s in snap.steps if not s.integrated and s.status in ACTIVE]
    files = {s.index: touched(project, snap, s) for s in active}
    found = []
    for a, b in combinations(active, 2):
        shared = sorted(files[a.index] & files[b.index])
        if not shared:
            continue
        real = _real(project.root, snap, a.index, b.index)
        found.append(ConflictRisk(steps=[a.index, b.index], files=shared,
                                  conflict=bool(real)))
    return found


def _real(root: Path, snap: RunSnapshot, a: int, b: int) -> list[str] | None:
    tips = step_worktrees.tip(root, snap, a), step_worktrees.tip(root, snap, b)
    if None in tips:
        return None
    return merge_conflicts(root, str(tips[0]), str(tips[1]))


def graph_lines(snap: RunSnapshot) -> list[str]:
    """The step graph as text (`dflow show`): each step with its state, indented by depth."""
    deps = {s.index: s.depends_on for s in snap.steps}
    labels = {s.index: f"{_state(s, snap.run.parallel):<10} {s.title}" for s in snap.steps}
    return graph.draw(deps, labels)


def _state(step: StepRun, parallel: bool) -> str:
    if step.conflict:
        return "resolve"
    if parallel and step.integrated:
        return "merged"
    if parallel and step.status == StepStatus.COMPLETED:
        return "to merge"
    return step.status.value
