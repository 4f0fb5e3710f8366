"""The protocol's contract files (plan.md, context.md, step files): written without following a
symbolic link, and read by steps and QA as the plan committed them, never from the worktree,
where an executor could rewrite or delete them (docs/decisions/0721-the-contract-is-read-from-
the-plan-commit.md)."""

from __future__ import annotations

import os
from pathlib import Path

from ...domain.runs.models import RunSnapshot
from ...errors import UnsafePath
from ...git import local, runner
from ...git.worktree import Worktree

MISSING = "(missing from the plan commit)"


def safe_folder(worktree: Path, folder: str) -> Path:
    """`worktree/folder`, made if needed, refusing any symbolic link on the way."""
    path = worktree
    for part in Path(folder).parts:
        path = path / part
        if path.is_symlink():
            raise UnsafePath(f"{path} is a symbolic link (it came with the branch); dflow never "
                             "writes through one: replace it with a real folder, commit that "
                             "on the base branch, and plan the run again")
        path.mkdir(exist_ok=True)
    return path


def write_file(path: Path, text: str) -> None:
    """Write `path`, refusing a symbolic link there (O_NOFOLLOW) instead of writing through."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if path.is_symlink():
            raise UnsafePath(f"{path} is a symbolic link; dflow never writes through one: "
                             "remove it and plan the run again") from exc
        raise
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def read(snap: RunSnapshot, worktree: Worktree | Path, folder: str, name: str) -> str:
    """A contract file as the plan commit holds it (a symlink there reads as its target's
    name, never as the file it points to). Runs planned before dflow recorded the plan
    commit read the worktree's copy, refusing a symbolic link."""
    if snap.run.plan_commit:
        text = local.blob_text(worktree, snap.run.plan_commit, f"{folder}/{name}")
        if text is not None:
            return text
        done = runner.run(worktree, "cat-file", "blob", f"{snap.run.plan_commit}:{folder}/{name}",
                          check=False)
        return done.stdout if done.returncode == 0 else MISSING
    path = worktree / folder / name
    for part in (worktree / folder, path):
        if part.is_symlink():
            raise UnsafePath(f"{part} is a symbolic link; dflow never reads through one")
    return path.read_text(encoding="utf-8") if path.is_file() else MISSING


def contract_paths(snap: RunSnapshot, folder: str) -> list[str]:
    """What the plan commit fixes: plan.md, context.md and the step files (log.md is the
    run's log, which steps may add to)."""
    names = ["plan.md", "context.md", *(s.file for s in snap.steps if s.file)]
    return [f"{folder}/{name}" for name in dict.fromkeys(names)]


def changed_since_plan(cwd: local.Where, snap: RunSnapshot, folder: str, commit: str) -> list[str]:
    """The contract files whose committed copy at `commit` is not the plan commit's
    (docs/decisions/1545-the-contract-as-planned.md); [] for a run planned before dflow
    recorded its plan commit."""
    plan = snap.run.plan_commit
    if not plan or not commit or plan == commit:
        return []
    paths = contract_paths(snap, folder)
    found = local.changed_paths(cwd, plan, commit, paths)
    if found is None:
        done = runner.run(cwd, "diff", "--no-ext-diff", "--no-textconv", "--name-only", "-z",
                          plan, commit, "--", *paths, check=False)
        found = [p for p in done.stdout.split("\0") if p]
    return found


def changed_note(changed: list[str]) -> str:
    """The warning QA reads before the diff when the contract was changed."""
    return (f"WARNING: this run's contract files were changed after the plan commit: "
            f"{', '.join(changed)}. Judge the step against the contract as planned (the step "
            "and plan above), not against the changed copy.\n\n")
