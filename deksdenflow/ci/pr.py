"""`dflow pr RUN`: push the run's branch and open a draft PR (gh) or MR (glab) from its plan."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..context.project import Project
from ..domain.agents.redaction import redact, secret_values
from ..domain.eventlog.payloads import RunPrOpened
from ..domain.runs.layout import protocol_folder, protocol_folders
from ..domain.runs.models import ProtocolRun
from ..errors import DflowError, GitOperationError
from ..store.branches import committed_file
from ..sync import transport
from ..sync.completion import record_merged
from ..workflow.checkouts import placement, worktrees
from ..workflow.delivery.landing import LandResult, check_landable, remote_of
from ..workflow.delivery.push_check import check_branch
from ..workflow.delivery.replay import STRATEGIES
from .forge import ci_provider

BODY_MAX = 60_000  # GitHub refuses bodies over 65,536 characters


class PrToolMissing(DflowError):
    """gh/glab is missing or not logged in; the message has the command to run by hand."""


def open_pr(project: Project, run_ref: str) -> str:
    """Push the branch, open a draft PR/MR titled and described from the plan; its URL."""
    view = project.view()
    run = view.find_run(run_ref).run
    if run.pr_url:
        return run.pr_url
    settings = project.settings()
    remote = settings.project.remote
    # The run's recorded work, fetched when another clone made it; refused when it is
    # nowhere, so no PR opens without it (decision 1502).
    placement.bring_branch(project, view.find_run(run_ref))
    local = project.store.has_ref(f"refs/heads/{run.branch}")
    pushed = project.store.has_ref(f"refs/remotes/{remote}/{run.branch}")
    if not local and not pushed:
        raise GitOperationError(
            f"{run.id} has no branch '{run.branch}' here or on '{remote}'; plan it first, or "
            f"`git fetch {remote}` on a clone that has it")
    title, body = describe(project, run)
    body = redact(body, secret_values(settings.secret_env_names()))
    if local:
        check_branch(project.root, worktrees.start_point(project, run.base),
                     f"refs/heads/{run.branch}", project.settings(), f"push {run.branch}")
        transport.push_branch(project.root, project.store, remote, run.branch)
    # What this command did to the branch, said first whatever happens next.
    done = (f"pushed branch {run.branch} to {remote}; " if local
            else f"branch {run.branch} is on {remote}; ")
    tool = provider(project, remote, settings.ci.provider)
    here = placement.existing(project, view.find_run(run_ref))
    plan = plan_file(project, run, here)
    if tool is None:
        raise PrToolMissing(
            f"{done}remote '{remote}' ({transport.remote_url(project.store, remote)}) is "
            f"neither GitHub nor GitLab: open a pull request from {run.branch} into {run.base} "
            f"on your forge with {plan} as its description (or `dflow "
            f"config set ci.provider github|gitlab` if it is one)")
    url = _create(project.root, tool, run, title, body, plan, done)
    project.store.transact(lambda tx: tx.emit(RunPrOpened(url=url, tool=tool), run=run.uid))
    return url


def describe(project: Project, run: ProtocolRun) -> tuple[str, str]:
    """Title: the run and its task's first line (a plan's heading is often just "Plan");
    body: the plan itself."""
    plan = None
    for folder in protocol_folders(run):
        plan = committed_file(project.store, run.branch, f"{folder}/plan.md", at=run.tip)
        if plan is not None:
            break
    text = plan.decode("utf-8", errors="replace") if plan else ""
    heading = next((ln.lstrip("#").strip() for ln in text.splitlines() if ln.startswith("#")), "")
    task = next((ln.strip() for ln in run.task.splitlines() if ln.strip()), "")
    title = f"{run.id}: {task or heading or run.name}"[:200]
    body = (text or run.task)[:BODY_MAX]
    if run.issue_number is not None:  # merging the PR (or MR) closes the issue it came from
        body += f"\n\nCloses #{run.issue_number}"
    body += f"\n\n---\nOpened by dflow for protocol run `{run.id}` (branch `{run.branch}`)."
    return title, body


def provider(project: Project, remote: str, configured: str) -> str | None:
    """gh for GitHub, glab for GitLab: from ci.provider, else from the remote's URL; None for
    a remote that is neither (a bare repository, another forge)."""
    if configured in ("github", "gitlab"):
        return "gh" if configured == "github" else "glab"
    found = ci_provider(transport.remote_url(project.store, remote))
    return {"github": "gh", "gitlab": "glab"}.get(found)


def command(tool: str, run: ProtocolRun, title: str, body_file: str) -> list[str]:
    if tool == "gh":
        return ["gh", "pr", "create", "--draft", "--title", title, "--body-file", body_file,
                "--head", run.branch, "--base", run.base]
    return ["glab", "mr", "create", "--draft", "--title", title, "--description",
            f"$(cat {body_file})", "--source-branch", run.branch, "--target-branch", run.base,
            "--yes"]


def plan_file(project: Project, run: ProtocolRun, worktree: Path | None = None) -> str:
    """Where the plan is on disk (this clone's worktree of the run), for the command printed
    to the user."""
    for folder in protocol_folders(run):
        for root in (worktree, project.root):
            path = root / folder / "plan.md" if root is not None else None
            if path is not None and path.is_file():
                return str(path)
    return f"{protocol_folder(run)}/plan.md"


def _create(cwd: Path, tool: str, run: ProtocolRun, title: str, body: str, plan: str,
            pushed: str) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False) as f:
        f.write(body)
    quoted = shlex.quote(f"$(cat {plan})")  # glab takes the text: keep $(cat) expandable
    by_hand = shlex.join(command(tool, run, title, plan)).replace(
        quoted, f'"$(cat {shlex.quote(plan)})"')
    try:
        return _invoke(cwd, tool, command(tool, run, title, f.name), body, by_hand, pushed)
    finally:
        Path(f.name).unlink(missing_ok=True)


def _invoke(cwd: Path, tool: str, argv: list[str], body: str, by_hand: str,
            pushed: str = "") -> str:
    if shutil.which(tool) is None:
        raise PrToolMissing(f"{pushed}`{tool}` is not installed; install it, or open the draft "
                            f"by hand with the plan as its description: {by_hand}")
    if tool == "glab":
        argv = [a if not a.startswith("$(cat ") else body for a in argv]
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        hint = f"`{tool} auth login`, then " if "auth" in done.stderr.lower() or \
            "log in" in done.stderr.lower() or "login" in done.stderr.lower() else ""
        raise PrToolMissing(f"{pushed}`{tool}` could not open the draft "
                            f"({why[-1] if why else 'failed'}); run {hint}`{by_hand}` by hand")
    urls = [w for w in done.stdout.split() if w.startswith("http")]
    if not urls:
        raise PrToolMissing(f"`{tool}` printed no URL; check with `{tool} pr list`")
    return urls[-1]


def merge_command(tool: str, run: ProtocolRun, strategy: str) -> list[str]:
    """`gh pr merge` / `glab mr merge` of the run's PR/MR with the chosen strategy."""
    if tool == "gh":
        return ["gh", "pr", "merge", run.pr_url or run.branch, f"--{strategy}"]
    extra = {"squash": ["--squash"], "rebase": ["--rebase"]}.get(strategy, [])
    return ["glab", "mr", "merge", run.branch, "--yes", *extra]


def merge_pr(project: Project, run: ProtocolRun, strategy: str) -> str:
    """Merge the run's open PR/MR with gh/glab; the tool's own words on success."""
    if not run.pr_url:
        raise DflowError(f"{run.id} has no open PR/MR; open one with `dflow pr {run.id}`, or "
                         f"land it without --via pr")
    settings = project.settings()
    tool = provider(project, settings.project.remote, settings.ci.provider)
    if tool is None:
        raise PrToolMissing(f"{run.id}'s remote is neither GitHub nor GitLab; merge its pull "
                            "request there (dflow sees the merge on its next sync), or `dflow "
                            "config set ci.provider github|gitlab` if it is one")
    argv = merge_command(tool, run, strategy)
    if shutil.which(tool) is None:
        raise PrToolMissing(f"`{tool}` is not installed; install it, or merge by hand with "
                            f"`{shlex.join(argv)}` (dflow then sees the merge on its next sync)")
    done = subprocess.run(argv, cwd=project.root, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        raise PrToolMissing(f"`{tool}` could not merge ({why[-1] if why else 'failed'}); "
                            f"run `{shlex.join(argv)}` by hand to see why")
    return done.stdout.strip()


def land_via_pr(project: Project, ref: str, strategy: str) -> LandResult:
    """`dflow land --via pr`: merge on the forge, then fetch the base and record the merge the
    same way as when someone merges there (sync/completion.py)."""
    if strategy not in STRATEGIES:
        raise DflowError(f"unknown strategy '{strategy}'; use merge, squash or rebase")
    snap = project.view().find_run(ref)
    check_landable(snap, project.settings())
    run = snap.run
    merge_pr(project, run, strategy)
    remote = remote_of(project)
    if remote is not None:
        transport.fetch_state(project.store, remote,
                              {f"refs/heads/{run.base}": f"refs/remotes/{remote}/{run.base}"})
    merged = run.id in record_merged(project, remote)
    tracking = project.store.ref_target(f"refs/remotes/{remote}/{run.base}")
    # The forge merges what the PR shows, protocol folder included (decision 1579).
    kept = [] if project.settings().land.keep_protocols else [
        f"[land] keep_protocols = false applies to `dflow land`, not to a merge on the forge: "
        f"{protocol_folder(run)}/ is on {run.base}; remove it there with a commit if it must go"]
    return LandResult(run=run.id, strategy=strategy, base=run.base, remote=remote,
                      commit=tracking or "", via="pr",
                      merged=merged, warnings=kept)
