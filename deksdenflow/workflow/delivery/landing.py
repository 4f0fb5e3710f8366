"""`dflow land`: put a run whose steps all passed onto its base branch, then record it merged.

Nothing changes until every check passed: the run is landable, the base (as the remote has it
now, when there is a remote) merges cleanly, and a checkout of the base can be updated without
touching its owner's uncommitted files (docs/decisions/1001-land.md).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from ...context.project import Project
from ...domain.config.settings import ProjectSettings
from ...domain.eventlog.payloads import RunMerged
from ...domain.runs.models import ProtocolRun, RunSnapshot, RunStatus, StepStatus
from ...errors import DflowError, GitOperationError
from ...store import Tx
from ...sync import completion, transport
from ..checkouts import placement
from ..checkouts.worktrees import git
from ..lifecycle.runs import folder, run_stage
from ..phases import contract
from . import replay
from .push_check import check_branch


class ContractChanged(DflowError):
    """The run's contract was changed after its plan commit; land refuses unless allowed."""


class NotLandable(DflowError):
    """The run is not ready to land (steps left, blocked, already merged, cancelled)."""


class LandResult(BaseModel):
    run: str
    strategy: str
    base: str
    commit: str
    remote: str | None = None
    pushed: bool = False
    via: str = "local"
    merged: bool = False
    updated_checkout: str | None = None
    warnings: list[str] = []  # for the user (the CLI prints them on stderr)


def check_landable(snap: RunSnapshot, settings: ProjectSettings) -> None:
    run = snap.run
    if run.merged:
        raise NotLandable(f"{run.id} is already merged into {run.base}")
    if run.cancelled or run.failed:
        raise NotLandable(f"{run.id} is {run.status.value}; there is nothing to land")
    only_land_block = set(run.blocks) == {"land"} and all(  # an earlier conflict: re-checked
        s.status == StepStatus.COMPLETED for s in snap.steps)
    if run.status != RunStatus.COMPLETED and not only_land_block:
        raise NotLandable(
            f"{run.id} is {run_stage(snap, settings)} ({snap.steps_done}/{len(snap.steps)} "
            "steps passed); "
            f"land it when every step has passed (`dflow status {run.id}`)")


def remote_of(project: Project) -> str | None:
    """The project's remote when this repository has it; None makes a local-only landing."""
    name = project.settings().project.remote
    return name if name in project.store.remote_names() else None


def land(project: Project, ref: str, strategy: str = "merge",
         allow_contract_changes: bool = False) -> LandResult:
    """Land the run locally (and push the base when there is a remote); a run whose contract
    files changed after its plan commit only with `allow_contract_changes`."""
    if strategy not in replay.STRATEGIES:
        raise DflowError(f"unknown strategy '{strategy}'; use merge, squash or rebase")
    snap = project.view().find_run(ref)
    check_landable(snap, project.settings())
    run, root = snap.run, project.root
    # The run's recorded work, fetched when another clone made it; refused when it is
    # nowhere, so nothing lands without it (decision 1502).
    placement.bring_branch(project, snap)
    remote = remote_of(project)
    target_ref = _fetch_base(project, run, remote)
    target = _rev(root, target_ref)
    local = _rev_or_none(root, f"refs/heads/{run.base}")
    head = _rev(root, f"refs/heads/{run.branch}")
    # The commit guard's rules over every commit that would reach the base (decision 0702).
    check_branch(root, target, head, project.settings(), f"land {run.branch}")
    if not allow_contract_changes:
        check_contract(root, snap, head)
    _check_local_base(root, run.base, local, target, target_ref)
    tree, conflicts = replay.merge_tree(root, target, head)
    if conflicts:
        raise replay.LandConflict(_conflict_text(run, target_ref, conflicts), conflicts)
    keep = project.settings().land.keep_protocols
    if not keep:  # the run branch (and its PR) keep the folder; the base does not (1579)
        tree = replay.without(root, tree, folder(snap))
    new = replay.build(root, strategy, target, head, tree, _message(run, strategy))
    if not keep and strategy == "rebase":  # the replayed commits carry it: one commit more
        new = _drop_protocols(root, snap, new)
    checkout = checkout_of(root, run.base)
    if checkout is not None:
        _check_fast_update(checkout, local or target, new, run.base)
    pushed = False
    if remote is not None:
        if not transport.push_ref(project.store, remote, new, f"refs/heads/{run.base}"):
            raise GitOperationError(f"{remote}/{run.base} moved while landing; nothing was "
                                    f"merged, run `dflow land {run.id}` again")
        git(root, "update-ref", f"refs/remotes/{remote}/{run.base}", new)
        pushed = True
    _update_local(root, run.base, local, new, checkout)
    merged = run.id in completion.record_merged(project, remote) or _is_recorded(project, run)
    if not merged and not keep:  # no folder on the base for completion to see: say it here
        merged = _record_landed(project, run)
    note = replay.identity_note(root, strategy)
    return LandResult(run=run.id, strategy=strategy, base=run.base, commit=new, remote=remote,
                      pushed=pushed, merged=merged,
                      updated_checkout=str(checkout) if checkout is not None else None,
                      warnings=[note] if note else [])


def check_contract(root: Path, snap: RunSnapshot, head: str) -> None:
    """ContractChanged when the run's branch changed its contract after the plan commit."""
    where = folder(snap)
    changed = contract.changed_since_plan(root, snap, where, head)
    if changed:
        raise ContractChanged(
            f"{snap.run.id}'s contract files were changed after its plan commit "
            f"({', '.join(changed)}); nothing was landed. Read the change with `git diff "
            f"{(snap.run.plan_commit or '')[:12]} {snap.run.branch} -- {where}` and, if it is "
            f"meant, run `dflow land {snap.run.id} --allow-contract-changes`")


def _fetch_base(project: Project, run: ProtocolRun, remote: str | None) -> str:
    """The ref to land onto: the remote's base as it is now, else the local base."""
    if remote is not None:
        done = transport.git(project.store, "fetch", "--no-tags", "--quiet", remote,
                             f"+refs/heads/{run.base}:refs/remotes/{remote}/{run.base}")
        tracking = f"refs/remotes/{remote}/{run.base}"
        if done.returncode == 0 and project.store.has_ref(tracking):
            return tracking
        if "couldn't find remote ref" not in done.stderr:
            raise transport.RemoteUnreachable(
                f"could not fetch {run.base} from '{remote}': "
                f"{(done.stderr.strip().splitlines() or ['no answer'])[-1]}")
    if not project.store.has_ref(f"refs/heads/{run.base}"):
        raise GitOperationError(f"base branch '{run.base}' does not exist here")
    return f"refs/heads/{run.base}"


def _check_local_base(root: Path, base: str, local: str | None, target: str,
                      target_ref: str) -> None:
    if local is None or local == target or target_ref == f"refs/heads/{base}":
        return
    if git(root, "merge-base", "--is-ancestor", local, target, check=False).returncode != 0:
        raise GitOperationError(
            f"your {base} has commits that are not on {target_ref.removeprefix('refs/remotes/')};"
            f" push or drop them first (`git log {target_ref.removeprefix('refs/')}..{base}`), "
            "then land again")


def checkout_of(root: Path, branch: str) -> Path | None:
    """The worktree (main or linked) that has `branch` checked out, if any."""
    listing = git(root, "worktree", "list", "--porcelain").stdout
    path: str | None = None
    for line in listing.splitlines():
        if line.startswith("worktree "):
            path = line.removeprefix("worktree ")
        elif line == f"branch refs/heads/{branch}" and path is not None:
            return Path(path)
    return None


def _check_fast_update(checkout: Path, old: str, new: str, base: str) -> None:
    """Refuse before anything changes when updating the checkout would touch local changes."""
    changed = set(git(checkout, "diff", "--name-only", "-z", old, new).stdout.split("\0")) - {""}
    status = git(checkout, "status", "--porcelain", "-z", "--untracked-files=all").stdout
    dirty = {entry[3:] for entry in status.split("\0") if len(entry) > 3}
    touched = sorted(changed & dirty)
    if touched:
        raise GitOperationError(
            f"{checkout} has {base} checked out with uncommitted changes to "
            f"{', '.join(touched[:5])}, which landing would change; commit or stash them, "
            "then land again (nothing was changed)")


def _update_local(root: Path, base: str, local: str | None, new: str,
                  checkout: Path | None) -> None:
    if checkout is not None:
        git(checkout, "merge", "--ff-only", "--quiet", new)
    elif local is not None:
        git(root, "update-ref", f"refs/heads/{base}", new, local)


def _drop_protocols(root: Path, snap: RunSnapshot, tip: str) -> str:
    where = folder(snap)
    tree = git(root, "rev-parse", f"{tip}^{{tree}}").stdout.strip()
    kept = replay.without(root, tree, where)
    if kept == tree:
        return tip
    return replay.bare_commit(root, kept, tip, f"{snap.run.id}: keep {where} out of "
                              f"{snap.run.base}\n\n[land] keep_protocols = false")


def _record_landed(project: Project, run: ProtocolRun) -> bool:
    def record(tx: Tx) -> bool:
        if not tx.run(run.uid).run.merged:
            tx.emit(RunMerged(branch=run.branch, base=run.base), run=run.uid, strict=False)
        return True

    return project.store.transact(record)


def _is_recorded(project: Project, run: ProtocolRun) -> bool:
    snap = project.view().run(run.uid)
    return bool(snap and snap.run.merged)


def _rev(root: Path, ref: str) -> str:
    found = _rev_or_none(root, ref)
    if found is None:
        raise GitOperationError(f"{ref.removeprefix('refs/heads/')} does not exist here")
    return found


def _rev_or_none(root: Path, ref: str) -> str | None:
    done = git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def _message(run: ProtocolRun, strategy: str) -> str:
    if strategy == "squash":
        return f"{run.id}: {run.task or run.name}\n\nLanded by dflow (squash of {run.branch})."
    return f"Merge branch '{run.branch}' into {run.base}\n\n{run.id}: {run.task or run.name}"


def _conflict_text(run: ProtocolRun, target_ref: str, files: list[str]) -> str:
    shown = target_ref.removeprefix("refs/remotes/").removeprefix("refs/heads/")
    return (f"{run.id} conflicts with {shown} in {len(files)} file"
            f"{'s' if len(files) != 1 else ''}: {', '.join(files)}; nothing was changed. "
            f"Merge {shown} into {run.branch} in {run.worktree or 'its worktree'}, resolve, "
            "commit, and land again")
