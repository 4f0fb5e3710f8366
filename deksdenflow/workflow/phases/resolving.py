"""Resolve attempts: a step whose merge into the run branch conflicted goes back to its agent
in its own worktree, with the run branch merged in and the conflict to resolve
(docs/decisions/1403-conflicts-become-resolve-steps.md).

The result is a merge commit on the step's branch whose second parent is the run branch's
tip, so the integrator's next merge of the step is clean.
"""

from __future__ import annotations

from ...context.project import Project
from ...domain.config.settings import ProjectSettings
from ...domain.runs.models import RunSnapshot, StepRun
from ...errors import EngineError
from ...git import runner
from ...git.worktree import Worktree
from ..delivery import integration
from . import changes, contract, prompts
from .planning import folder

MARKERS = ("<<<<<<< ", ">>>>>>> ")
MAX_CONFLICT_CHARS = 20_000


def run_tip(worktree: Worktree, snap: RunSnapshot) -> str:
    return runner.run(worktree, "rev-parse", "--verify",
                      f"refs/heads/{snap.run.branch}^{{commit}}").stdout.strip()


def begin(worktree: Worktree, snap: RunSnapshot) -> tuple[str, list[str]]:
    """Merge the run branch into the step's branch without committing: (tip merged, files
    left in conflict — empty when it merges cleanly by now)."""
    tip = run_tip(worktree, snap)
    runner.run(worktree, *changes.identity(worktree), "merge", "--no-ff", "--no-commit",
               "--no-edit", tip, check=False)
    return tip, integration.conflicted_files(worktree)


def render(project: Project, snap: RunSnapshot, step: StepRun, worktree: Worktree,
           files: list[str], values: dict[str, str]) -> prompts.Prompt:
    """The resolve prompt; `values` are the step's placeholders (execution.step_values)."""
    diff = runner.run(worktree, "diff", "--", *files, check=False).stdout if files else ""
    if len(diff) > MAX_CONFLICT_CHARS:
        diff = diff[:MAX_CONFLICT_CHARS] + "\n[... cut ...]\n"
    return prompts.render("resolve", project.root, {
        **values, "files": ", ".join(files) or "(none)",
        "conflict": diff or "(git reports no conflicting lines any more)",
        "summary": (step.qa.summary if step.qa else "") or step.summary or "(none)",
        "other_steps": _other_steps(snap, step, worktree),
    })


def _other_steps(snap: RunSnapshot, step: StepRun, worktree: Worktree) -> str:
    parts = []
    for other in snap.steps:
        if other.index == step.index or not other.integrated:
            continue
        if step.conflict_with and other.index not in step.conflict_with:
            continue
        text = contract.read(snap, worktree, folder(snap), other.file) if other.file else ""
        qa = (other.qa.summary if other.qa else "") or other.summary or "(none)"
        parts.append(f"### Step {other.index:02d}: {other.title}\n\n{text}\n\nQA: {qa}\n")
    return "\n".join(parts) or "(no other step is recorded as the other side)"


def check_resolved(worktree: Worktree, files: list[str]) -> None:
    """A resolution that still holds conflict markers is a failed attempt, never a merge."""
    left = []
    for name in files:
        try:
            text = (worktree / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue  # deleted: a resolution too
        if any(line.startswith(MARKERS) for line in text.splitlines()):
            left.append(name)
    if left:
        raise EngineError(f"the resolve attempt left conflict markers in {', '.join(left)}")


def commit(worktree: Worktree, start: str, tip: str, message: str,
           settings: ProjectSettings, retry: str | None = None) -> str | None:
    """Commit the resolution through the commit guard; the result always has the run
    branch's tip as a parent (an agent that committed the merge itself is put right), so
    merging it into the run branch is clean. An agent that aborted the merge failed."""
    merging = runner.run(worktree, "rev-parse", "-q", "--verify", "MERGE_HEAD",
                         check=False).returncode == 0
    if not merging and changes.head(worktree) == start:
        raise EngineError("the resolve attempt aborted the merge instead of resolving it")
    done = changes.commit(worktree, message, settings, start, retry)
    head = changes.head(worktree)
    merged = runner.run(worktree, "merge-base", "--is-ancestor", tip, head, check=False)
    if merged.returncode == 0:
        return done
    tree = runner.run(worktree, "rev-parse", f"{head}^{{tree}}").stdout.strip()
    fixed = runner.run(worktree, *changes.identity(worktree), "commit-tree", tree, "-p",
                       start, "-p", tip, "-m", message).stdout.strip()
    runner.run(worktree, "reset", "-q", "--soft", fixed)
    return fixed
