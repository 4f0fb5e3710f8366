"""Where a run's worktree is on this clone, and bringing it to the work the state records
(docs/decisions/1501-worktrees-are-machine-local.md).

A worktree belongs to the clone that made it. Its place is decided here, never read from the
shared state: the linked worktree of this clone that has the run's branch checked out, else
`<worktree root>/<branch>` under this clone's own settings. The path a run records
(`run.worktree`) is only what the creating machine chose; a teammate can push any path there.

Before a job acts on a run, `prepare` fetches the run's work when a recorded commit is
missing, moves `refs/heads/<branch>` to the recorded tip, and (re)creates the worktree there
with the branch checked out. Everything that runs git in a run's worktree takes its path from
a snapshot `prepare` or `local` returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...context.project import Project
from ...domain.runs.models import RunSnapshot
from ...errors import GitOperationError
from ...git import runner
from ...sync import work
from ..phases import changes
from . import worktrees


class NotThisRunsWorktree(GitOperationError):
    """A path dflow would work in is not this clone's worktree of the run's branch."""


def is_run_branch(snap: RunSnapshot, base: str = "") -> bool:
    """A branch dflow may make, move, commit on or delete for this run: shaped like a run
    branch and not the base. The state is shared data: a teammate can record any name."""
    branch = snap.run.branch
    return bool(work.RUN_BRANCH.fullmatch(branch)) and branch not in (snap.run.base, base)


def check_branch(project: Project, snap: RunSnapshot) -> None:
    if not is_run_branch(snap, project.settings().project.base_branch):
        raise NotThisRunsWorktree(
            f"{snap.run.id} records the branch {snap.run.branch!r}, which is not a run branch "
            f"(NNNN-name); dflow will not work on it — cancel the run (`dflow cancel "
            f"{snap.run.id}`)")


@dataclass(frozen=True)
class Checkout:
    path: Path
    branch: str | None  # None: detached or bare
    main: bool


def checkouts(project: Project) -> list[Checkout]:
    """This clone's checkouts, the main one first, as `git worktree list` has them: read from
    the git dir in-process (`worktrees/<id>/gitdir` and `HEAD`), so a job that finds its
    worktree ready spawns no git process; a registration whose folder is gone is left out."""
    common = project.store.git_dir
    out = [Checkout(project.root, _branch_in(common / "HEAD"), main=True)]
    registered = common / "worktrees"
    for entry in sorted(registered.iterdir()) if registered.is_dir() else []:
        try:
            gitfile = Path((entry / "gitdir").read_text().strip())
        except OSError:
            continue
        if gitfile.is_file():
            out.append(Checkout(gitfile.parent, _branch_in(entry / "HEAD"), main=False))
    return out


def _branch_in(head: Path) -> str | None:
    try:
        text = head.read_text().strip()
    except OSError:
        return None
    return text.removeprefix("ref: refs/heads/") if text.startswith("ref: refs/heads/") else None


def place(project: Project, snap: RunSnapshot) -> Path:
    """This clone's worktree of the run (it may not exist yet). The main checkout is never
    a run's worktree: a person works there."""
    check_branch(project, snap)
    branch = snap.run.branch
    for found in checkouts(project):
        if found.branch != branch:
            continue
        if found.main:
            raise NotThisRunsWorktree(
                f"{found.path} has {branch} checked out; dflow runs agents only in a run's own "
                f"worktree: switch {found.path} to another branch, then try again")
        return found.path
    return worktrees.worktree_root(project) / branch


def check(project: Project, snap: RunSnapshot, path: Path) -> None:
    """Refuse a path that is not a linked worktree of this clone with the run's branch."""
    resolved = path.resolve()
    for found in checkouts(project):
        if found.path.resolve() == resolved and not found.main \
                and found.branch == snap.run.branch:
            return
    raise NotThisRunsWorktree(
        f"{path} is not this clone's worktree of {snap.run.branch}; dflow will not run "
        f"{snap.run.id}'s agent there: move it away (or set project.worktree_root), then retry")


def localized(snap: RunSnapshot, path: Path) -> RunSnapshot:
    """The snapshot with this clone's worktree in place of the recorded hint."""
    return snap.model_copy(update={"run": snap.run.model_copy(update={"worktree": str(path)})})


def local(project: Project, snap: RunSnapshot) -> RunSnapshot:
    """For reads: the snapshot with this clone's worktree place (nothing is made or moved)."""
    return localized(snap, place(project, snap))


def prepare(project: Project, snap: RunSnapshot) -> RunSnapshot:
    """Before a job acts on the run: its recorded work present (fetched when missing), the
    branch at the recorded tip, this clone's worktree at it with the branch checked out.
    Returns the snapshot to work with (its `run.worktree` is the local place)."""
    recorded = work.bring(project, snap)
    path = place(project, snap)
    branch = snap.run.branch
    tips = {w.branch: w.commit for w in recorded}
    if path.exists():
        check(project, snap, path)
    if branch in tips:
        move_branch(project, branch, tips[branch],
                    Checkout(path, branch, main=False) if path.exists() else None)
    if not path.exists():
        _add(project, snap, path)
    for name, commit in tips.items():
        if name != branch:  # a parallel step's branch recorded by whichever clone ran it
            move_branch(project, name, commit, _checked_out(project, name))
    return localized(snap, path)


def bring_branch(project: Project, snap: RunSnapshot) -> str | None:
    """For `land`, `pr` and `diff`: the run's recorded work present and `refs/heads/<branch>`
    holding it (created or fast-forwarded; the worktree too when it has the branch checked
    out). The recorded tip, or None when nothing is recorded yet."""
    check_branch(project, snap)
    recorded = {w.branch: w.commit for w in work.bring(project, snap)}
    tip = recorded.get(snap.run.branch)
    if tip is not None:
        move_branch(project, snap.run.branch, tip, _checked_out(project, snap.run.branch),
                    reset=False)
    return tip


def existing(project: Project, snap: RunSnapshot) -> Path | None:
    """This clone's linked worktree of the run, when it has one (for `clean`, `step retry
    --clean`): never the main checkout, never the recorded hint."""
    if not is_run_branch(snap):
        return None
    found = _checked_out(project, snap.run.branch)
    return found.path if found is not None and not found.main else None


def move_branch(project: Project, branch: str, tip: str, checkout: Checkout | None,
                reset: bool = True) -> None:
    """`refs/heads/<branch>` to the recorded tip: created, fast-forwarded, or kept when it is
    already past it (commits of this clone's own interrupted attempt, or a person's). A
    branch that went another way is moved to the recorded tip, its changes set aside first
    (`git stash list` and the reflog keep them)."""
    ref = f"refs/heads/{branch}"
    here = project.store.ref_target(ref)
    if here == tip or (here is not None and work.is_ancestor(project, tip, here)):
        return
    diverged = here is not None and not work.is_ancestor(project, here, tip)
    if diverged and not reset:
        raise GitOperationError(
            f"your branch {branch} has commits that are not in the work the state records "
            f"({tip[:12]}); merge {tip[:12]} into it (or move them elsewhere), then retry")
    if checkout is None:
        runner.run(project.root, "update-ref", ref, tip, *([here] if here else []))
        return
    # An agent may have worked in a linked worktree: git enters it only through the git dir
    # this clone recorded (decision 1530); the main checkout is the person's own.
    tree = checkout.path if checkout.main else worktrees.located(project, checkout.path)
    if here is not None and work.is_ancestor(project, here, tip):
        done = runner.run(tree, "merge", "--ff-only", "--quiet", tip, check=False)
        if done.returncode == 0:
            return
    if checkout.main or not reset:  # a person's checkout or branch: never reset under them
        raise GitOperationError(
            f"{checkout.path} has {branch} checked out and cannot be moved to the recorded "
            f"work {tip[:12]}; switch it to another branch (or commit, stash), then retry")
    located = worktrees.located(project, checkout.path)
    changes.set_aside(located, f"dflow: before moving {branch} to the recorded work {tip[:12]}",
                      allow_submodules=project.settings().git.allow_submodules)
    runner.run(located, "reset", "-q", "--hard", tip)


def _checked_out(project: Project, branch: str) -> Checkout | None:
    for found in checkouts(project):
        if found.branch == branch:
            return found
    return None


def _add(project: Project, snap: RunSnapshot, path: Path) -> None:
    """This clone's worktree of the run, at its branch (made from the base when the run has
    no recorded commit and no branch here yet)."""
    branch = snap.run.branch
    path.parent.mkdir(parents=True, exist_ok=True)
    runner.run(project.root, "worktree", "prune", check=False)  # a registration left behind
    if project.store.has_ref(f"refs/heads/{branch}"):
        runner.run(project.root, "worktree", "add", "--quiet", str(path), branch)
        return
    worktrees.create(project, branch, path, worktrees.start_point(project, snap.run.base))
