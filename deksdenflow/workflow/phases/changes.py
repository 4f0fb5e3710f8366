"""What an attempt may commit on a run branch: exactly its agent's changes, and never a file
that must not be committed (docs/decisions/0701-commits-hold-only-the-agents-work.md)."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from ...domain.agents.redaction import holds_secret, secret_values
from ...domain.config.settings import ProjectSettings
from ...domain.runs.models import Job
from ...errors import CommitRefused, WorktreeDirty
from ...git import local, runner
from ...git.worktree import Worktree, check

# Names that hold credentials by convention; matched against the file's base name.
SECRET_NAMES = (".env", ".env.*", "*.env", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks",
                "*.keystore", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", ".netrc",
                "_netrc", ".pgpass", "credentials", "credentials.json", ".git-credentials",
                "*.kdbx", "secrets.y*ml", "service-account*.json")
PUBLIC_SUFFIXES = (".env.example", ".env.sample", ".env.template", ".env.dist")
# Package-manager configs are ordinary files unless they carry credentials.
CREDENTIAL_CONFIGS = {".npmrc": ("_authtoken", "_auth=", "_password"),
                      ".pypirc": ("password",), ".yarnrc.yml": ("npmauthtoken",)}
GITLINK = "160000"


def dirty_files(worktree: Worktree) -> list[str]:
    """Tracked changes and untracked, non-ignored files, as `git status` lists them (a
    nested repository as its folder, `vendor/lib/`: git never enters one here)."""
    return [path for path, _ in _status(worktree)]


def _status(worktree: Worktree) -> list[tuple[str, bool]]:
    """(path, is a gitlink or nested repository) of every change `git status` lists."""
    out = runner.run(worktree, "status", "--porcelain=v2", "-z", "--untracked-files=all",
                     "--no-renames").stdout
    found = []
    for entry in out.split("\0"):
        if entry.startswith("? "):
            found.append((entry[2:], entry.endswith("/")))
        elif entry[:2] in ("1 ", "u "):
            fields = entry.split(" ", 10 if entry[0] == "u" else 8)
            found.append((fields[-1], fields[2].startswith("S")))
    return found


def guard(worktree: Worktree, allow_submodules: bool) -> None:
    """Before dflow's git works on what an agent left: its `.git` must still name the git
    dir this clone recorded, and it holds no nested repository or gitlink the agent made
    (unless the project allows submodules): a repository the agent built is never entered
    (docs/decisions/1530-dflow-git-on-recorded-gitdirs.md)."""
    check(worktree)
    if allow_submodules:
        return
    nested = [path.rstrip("/") for path, repo in _status(worktree) if repo]
    if nested:
        shown = ", ".join(nested[:5])
        raise CommitRefused(
            f"dflow will not commit or set aside {shown} (a nested repository or gitlink the "
            f"agent made; set git.allow_submodules = true to allow submodules); remove it from "
            f"{worktree}, then retry")


def require_clean(worktree: Worktree, run_id: str, step: int | None) -> None:
    """Refuse to start an attempt on changes no agent of this job made."""
    files = dirty_files(worktree)
    if not files:
        return
    shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    raise WorktreeDirty(f"the worktree {worktree} holds changes no agent made ({shown}); "
                        f"commit them yourself, or set them aside with "
                        f"{retry_hint(worktree, run_id, step)}")


def retry_hint(worktree: Worktree | Path, run_id: str, step: int | None) -> str:
    """The command that sets the worktree's changes aside and tries again."""
    if step is not None:
        return f"`dflow step retry {run_id} {step} --clean`"
    return f"`git -C {worktree} stash -u` and `dflow plan {run_id}`"


def require_settled(worktree: Worktree, what: str) -> None:
    """After `what` (a step's commit) nothing may have written into its worktree: a change
    now is a late write by a process of the agent that outlived its step (decision 1531)."""
    check(worktree)
    files = dirty_files(worktree)
    if files:
        shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
        raise CommitRefused(
            f"something wrote into {worktree} after {what} ({shown}): a process of the agent "
            f"outlived its step; dflow will not review or build on it: look at the changes, "
            f"set them aside with `git -C {worktree} stash -u`, then retry the step")


JOB_TRAILER = "Dflow-Job"


def prepare(worktree: Worktree, job: Job, run_id: str) -> None:
    """Before an attempt touches the worktree: a first attempt needs it clean; a later one
    sets aside what its predecessor (killed, or failed before it could) left behind."""
    check(worktree)
    if job.attempts > 1:
        clear_stale_index_lock(worktree)
        set_aside(worktree, f"dflow: leftovers before attempt {job.attempts} of job {job.id}")
    else:
        require_clean(worktree, run_id, job.step)


def clear_stale_index_lock(worktree: Worktree) -> Path | None:
    """A later attempt holds the job's lock, so no dflow process works in this worktree: an
    `index.lock` there was left by its predecessor's killed `git add`/`commit`. Remove it."""
    lock = worktree.git_dir / "index.lock"  # the recorded git dir's: `rev-parse --git-path`
    if not lock.exists():
        return None
    lock.unlink(missing_ok=True)
    return lock


def adoptable(worktree: Worktree, job_id: str) -> str | None:
    """The commit an earlier attempt of this job made before it died (its trailer names the
    job), if it is the branch tip: the retry adopts it instead of running the agent again."""
    done = runner.run(worktree, "log", "-1", f"--format=%H%n%(trailers:key={JOB_TRAILER},"
                      "valueonly)", check=False)
    lines = done.stdout.split()
    return lines[0] if done.returncode == 0 and len(lines) > 1 and lines[1] == job_id else None


def head(worktree: Worktree) -> str:
    """The commit an attempt starts from (the branch tip before its agent runs): read
    in-process; git answers (or fails) only where libgit2 cannot."""
    return (local.head(worktree)
            or runner.run(worktree, "rev-parse", "--verify", "HEAD").stdout.strip())


def take_back_commits(worktree: Worktree, start: str | None) -> None:
    """Commits an agent made itself since `start` become uncommitted changes again, so that
    the guard sees them and the attempt's one commit (or its stash) holds them."""
    if start and head(worktree) != start:
        runner.run(worktree, "reset", "-q", "--soft", start)


def set_aside(worktree: Worktree, label: str, start: str | None = None,
              allow_submodules: bool = False) -> bool:
    """Move every uncommitted change (untracked files too, and commits the agent made since
    `start`) into `git stash`; True if any. Nothing is deleted: `git stash list` shows it."""
    guard(worktree, allow_submodules)
    take_back_commits(worktree, start)
    if not dirty_files(worktree):
        return False
    runner.run(worktree, *_identity(worktree), "stash", "push", "--include-untracked",
               "--quiet", "-m", label)
    return True


def commit(worktree: Worktree, message: str, settings: ProjectSettings,
           start: str | None = None, retry: str | None = None) -> str | None:
    """Stage everything since `start` (the attempt's start commit: commits the agent made
    itself are folded in and checked too), refuse what must not be committed, commit; the new
    id or None. A refusal leaves the branch at `start` and the files uncommitted."""
    hooks = settings.git.run_hooks
    # Only the `.git` check here: a nested repository becomes a gitlink that `_refusal`
    # names, and neither `add` nor the staged list enters it (WORKTREE_CONFIG).
    check(worktree)
    take_back_commits(worktree, start)
    runner.run(worktree, "add", "-A", hooks=hooks)
    staged = _staged(worktree)
    if not staged:
        return None
    problems = [p for path, mode in staged if (p := _refusal(worktree, path, mode, settings))]
    if problems:
        runner.run(worktree, "reset", "-q", check=False)
        raise CommitRefused(
            f"dflow will not commit {'; '.join(problems[:5])}; the files stay uncommitted in "
            f"{worktree}: remove them (or add them to .gitignore), then retry"
            + (f" with {retry}" if retry else ""))
    _commit_index(worktree, message, hooks)
    return head(worktree)


# Our commits on a run branch do not start git's auto maintenance (a second git process per
# commit): the store's own after-commit check packs the loose objects both of them make
# (docs/decisions/1331-step-commits-one-git-process.md).
NO_AUTO_MAINTENANCE = ("-c", "maintenance.auto=false")
NO_IDENTITY = "auto-detection is disabled"


def _commit_index(worktree: Worktree, message: str, hooks: bool) -> None:
    """`git commit` of the index. Without hooks, the identity check is folded into the commit:
    `user.useConfigOnly` makes git fail, before it writes anything, exactly where `_identity`
    would have supplied dflow's; only then is the config read and the commit made as before."""
    argv = ("commit", "--quiet", "-m", message)
    if not hooks:
        done = runner.run(worktree, "-c", "user.useConfigOnly=true", *NO_AUTO_MAINTENANCE,
                          *argv, check=False)
        if done.returncode == 0:
            return
        if NO_IDENTITY not in done.stderr:
            raise runner.failure(done, argv, worktree)
    runner.run(worktree, *_identity(worktree), *NO_AUTO_MAINTENANCE, *argv, hooks=hooks)


def _staged(worktree: Worktree) -> list[tuple[str, str]]:
    """(path, new mode) of every added or changed entry in the index, gitlinks too (index
    against HEAD only: git enters no submodule for it)."""
    out = runner.run(worktree, "diff", "--cached", "--raw", "-z", "--no-renames",
                     "--no-ext-diff", "--ignore-submodules=none").stdout
    parts = out.split("\0")
    entries = []
    for meta, path in zip(parts[0::2], parts[1::2], strict=False):
        fields = meta.lstrip(":").split()
        if len(fields) >= 5 and fields[4] != "D":
            entries.append((path, fields[1]))
    return entries


def _refusal(worktree: Worktree, path: str, mode: str, settings: ProjectSettings) -> str | None:
    full = worktree / path
    try:
        size = os.lstat(full).st_size
    except OSError:
        size = 0

    def text() -> str:
        try:
            return content_text(full.read_bytes())
        except OSError:
            return ""

    declared = settings.git.allow_submodules and mode == GITLINK and _in_gitmodules(worktree,
                                                                                    path)
    return refusal(path, mode, size, text, settings, declared)


def refusal(path: str, mode: str, size: int, text: Callable[[], str],
            settings: ProjectSettings, declared: bool = False) -> str | None:
    """Why this file must not be committed or pushed (None: it may). `declared`: a gitlink
    that `.gitmodules` names in a project that allows submodules (git.allow_submodules)."""
    name = PurePosixPath(path).name
    if mode == GITLINK:
        return None if declared else (f"{path} (a gitlink: a nested repository or submodule "
                                      "the project does not allow)")
    if size > settings.limits.max_file_bytes:
        return f"{path} ({size:,} bytes, over limits.max_file_bytes = " \
               f"{settings.limits.max_file_bytes:,})"
    if any(fnmatch.fnmatch(path, glob) for glob in settings.secrets.allow_files):
        return None
    if _looks_secret_by_name(name):
        return f"{path} (its name says it holds credentials)"
    if holds_secret(path, secret_values(settings.secret_env_names())):
        return f"{path} (its name holds what looks like a secret)"
    if mode == "120000":
        return None  # a symlink: its target path is the content, and it is not read through
    content = text()
    keys = CREDENTIAL_CONFIGS.get(name.lower(), ())
    if any(k in content.lower() for k in keys):
        return f"{path} (a {name} with credentials in it)"
    if holds_secret(content, secret_values(settings.secret_env_names())):
        return f"{path} (it contains what looks like a secret)"
    return None


def content_text(data: bytes) -> str:
    """A file's text for the secret check: UTF-8, and also UTF-16 when it looks like it (a
    BOM, or NULs between ASCII letters): git stores a `working-tree-encoding` file as UTF-8
    but the worktree holds it as UTF-16, where no pattern sees a token byte by byte."""
    text = data.decode("utf-8", errors="replace")
    head = data[:4096]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or head.count(b"\0") * 4 >= len(head) > 0:
        for codec in ("utf-16-le", "utf-16-be"):
            text += "\n" + data.decode(codec, errors="replace")
    return text


def _looks_secret_by_name(name: str) -> bool:
    if name.endswith(PUBLIC_SUFFIXES):
        return False
    return any(fnmatch.fnmatch(name, pattern) for pattern in SECRET_NAMES)


def _in_gitmodules(worktree: Worktree, path: str) -> bool:
    done = runner.run(worktree, "config", "-f", ".gitmodules", "--get-regexp", r"\.path$",
                      check=False)
    return any(line.split(" ", 1)[-1] == path for line in done.stdout.splitlines())


def identity(worktree: Worktree | Path) -> tuple[str, ...]:
    """`-c` options with a commit identity, when the user has none configured."""
    return _identity(worktree)


def _identity(worktree: Worktree | Path) -> tuple[str, ...]:
    """A commit identity when the user has none configured (a fresh CI runner)."""
    done = runner.run(worktree, "config", "user.email", check=False)
    return () if done.stdout.strip() else ("-c", "user.name=dflow", "-c",
                                           "user.email=dflow@localhost")
