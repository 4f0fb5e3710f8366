"""Code branches and worktrees of runs, through the git CLI (the state ref never goes here)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ...context.project import Project
from ...errors import DflowError, GitOperationError, UsageError
from ...git import local, runner
from ...git.worktree import Worktree, locate

COMMIT_IDENTITY = ("-c", "user.name=dflow", "-c", "user.email=dflow@localhost")


def located(project: Project, path: Path) -> Worktree:
    """The worktree at `path` with the git dir this clone recorded for it (never through
    its `.git` file: docs/decisions/1530-dflow-git-on-recorded-gitdirs.md)."""
    return locate(project.store.git_dir, path)


def git(cwd: Path | Worktree, *args: str, check: bool = True,
        hooks: bool = False) -> subprocess.CompletedProcess[str]:
    """Real git in `cwd` through the one runner (no hooks unless `[git] run_hooks`)."""
    return runner.run(cwd, *args, check=check, hooks=hooks)


def run_here(project: Project, given: str | None, cwd: Path | None = None) -> str:
    """`given` when a run is named; else the run whose branch is checked out in `cwd` (a
    person inside a run's worktree means that run)."""
    if given is not None:
        return given
    done = git(cwd or Path.cwd(), "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    branch = done.stdout.strip()
    if branch:
        try:
            snap = project.view().find_run(branch)
        except DflowError:
            snap = None
        if snap is not None and snap.run.branch == branch:
            return snap.run.id
    raise UsageError("name a run (`dflow status` lists them), or run this inside a run's "
                     "worktree")


def worktree_root(project: Project) -> Path:
    """`project.worktree_root` (relative to the repository) or `<repo>.worktrees` beside it."""
    root = project.root.resolve()
    configured = project.settings().project.worktree_root
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_absolute() else (root / path).resolve()
    return root.parent / f"{root.name}.worktrees"


def start_point(project: Project, base: str) -> str:
    """The base's remote-tracking branch when there is one, else the local branch."""
    remote = project.settings().project.remote
    for ref in (f"refs/remotes/{remote}/{base}", f"refs/heads/{base}"):
        if project.store.has_ref(ref):
            return ref
    if project.store.head_is_unborn:
        raise GitOperationError(
            f"base branch '{base}' has no commit yet, so a run cannot branch from it; "
            "commit something first (or use `dflow new --no-plan`)"
        )
    raise GitOperationError(
        f"base branch '{base}' does not exist here; create it or "
        "`dflow config set project.base_branch NAME`"
    )


def is_unborn(project: Project, base: str) -> bool:
    """True when the base branch has no commit anywhere yet (a freshly `git init`ed repo)."""
    remote = project.settings().project.remote
    refs = (f"refs/remotes/{remote}/{base}", f"refs/heads/{base}")
    return all(not project.store.has_ref(ref) for ref in refs) and (
        project.store.head_is_unborn
    )


def ensure(project: Project, branch: str, path: Path, base: str) -> Path:
    """The run's worktree, made now if its creation was deferred (base had no commit)."""
    if path.is_dir():
        return path
    if project.store.has_ref(f"refs/heads/{branch}"):
        raise GitOperationError(
            f"the worktree of branch '{branch}' ({path}) is missing; "
            f"restore it with `git worktree add {path} {branch}`"
        )
    create(project, branch, path, start_point(project, base))
    return path


def check_clean(project: Project) -> None:
    """Refuse a detached HEAD or uncommitted changes to tracked files in the checkout."""
    root = project.root
    attached = local.on_branch(root)
    if attached is None:
        attached = git(root, "symbolic-ref", "-q", "HEAD", check=False).returncode == 0
    if not attached:
        raise GitOperationError(
            f"{root} has a detached HEAD; check out a branch (git switch main) and try again"
        )
    dirty = git(root, "status", "--porcelain", "--untracked-files=no").stdout.splitlines()
    if dirty:
        first = dirty[0][3:]
        raise GitOperationError(
            f"{root} has uncommitted changes (first: {first}); commit or stash them first"
        )


def check_free(project: Project, branch: str, path: Path) -> None:
    if project.store.has_ref(f"refs/heads/{branch}"):
        raise GitOperationError(f"branch '{branch}' already exists; delete it or pick another name")
    if path.exists():
        raise GitOperationError(f"{path} already exists; remove it or set project.worktree_root")


def create(project: Project, branch: str, path: Path, start: str) -> None:
    """Create the branch at `start` and check it out in a new worktree at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    git(project.root, "worktree", "add", "--quiet", "--no-track", "-b", branch, str(path), start)


def remove(project: Project, branch: str, path: Path) -> None:
    """Undo `create` (recording the run failed, or its process was killed): nothing
    half-made is left, also a worktree git left locked ("initializing") or half checked out.
    Only for a branch and path `create` made (the path was free before: `check_free`)."""
    git(project.root, "worktree", "unlock", str(path), check=False)
    git(project.root, "worktree", "remove", "--force", "--force", str(path), check=False)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    git(project.root, "worktree", "prune", check=False)
    git(project.root, "branch", "-D", branch, check=False)


AGENT_TMP = ".dflow-tmp"


def agent_tmp(worktree: Worktree) -> Path:
    """The agent's private temp dir inside its worktree, ignored through the repository's
    `info/exclude` (never committed, never shown as a change): the system temp dir can then
    stay outside the agent's sandbox."""
    common = (local.common_dir(worktree)
              or Path(git(worktree, "rev-parse", "--git-common-dir").stdout.strip()))
    exclude = (common if common.is_absolute() else worktree.path / common) / "info" / "exclude"
    line = f"/{AGENT_TMP}/"
    try:
        present = line in exclude.read_text().splitlines()
    except OSError:
        present = False
    if not present:
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with exclude.open("a") as out:
            out.write(f"\n# dflow: agents' private temp dirs\n{line}\n")
    path = worktree / AGENT_TMP
    path.mkdir(exist_ok=True)
    return path


def show_commit(worktree: Worktree, commit: str | None, limit: int = 20_000) -> str:
    """`git show --stat -p` of a commit, cut to `limit` characters (for the QA prompt;
    docs/decisions/1332-the-qa-diff-in-process.md)."""
    if not commit:
        return "(the step changed no files)"
    # In-process; git where libgit2 cannot, never running a textconv or external diff the
    # repository's config names (the agent may control that config).
    text = (local.show(worktree, commit)
            or git(worktree, "show", "--no-textconv", "--no-ext-diff", "--stat", "-p",
                   "--format=commit %H%n%s%n", commit).stdout)
    return text if len(text) <= limit else text[:limit] + "\n[... diff cut ...]\n"
