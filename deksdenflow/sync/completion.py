"""Completion on merge: a run is done when its work is in the base branch, as git shows it.

Seen either way a team merges: the run's branch tip is an ancestor of the base (merge
commit or fast-forward), or the base holds the run's protocol folder (squash and rebase
merges rewrite the commits but carry `.protocols/NNNN-name/` along).
"""

from __future__ import annotations

import pygit2

from ..context.project import Project
from ..domain.models import ProtocolRun
from ..domain.payloads import RunMerged
from ..store import Tx

PROTOCOLS_DIR = ".protocols"


def merged_runs(project: Project, remote: str | None = None) -> list[ProtocolRun]:
    """Runs not yet merged whose branch is merged into their base (cheap: ref lookups).

    A run whose steps all passed (`completed`, ready to land) is looked at too: landing it is
    what makes it merged (docs/decisions/1000-ready-and-merged.md)."""
    repo = project.repo
    found = []
    for snap in project.view().runs():
        run = snap.run
        if run.cancelled or run.failed or run.merged or not run.branch:
            continue
        bases = [_tip(repo, f"refs/remotes/{remote}/{run.base}") if remote else None,
                 _tip(repo, f"refs/heads/{run.base}")]
        if any(b is not None and _is_merged(repo, run, b) for b in bases):
            found.append(run)
    return found


def record_merged(project: Project, remote: str | None = None) -> list[str]:
    """Record run.merged for every run found merged; returns their ids."""
    found = merged_runs(project, remote)
    if not found:
        return []

    def record(tx: Tx) -> list[str]:
        done = []
        for run in found:
            if tx.run(run.uid).run.merged:
                continue
            tx.emit(RunMerged(branch=run.branch, base=run.base), run=run.uid, strict=False)
            done.append(tx.run(run.uid).run.id)
        return done

    return project.store.transact(record)


def _is_merged(repo: pygit2.Repository, run: ProtocolRun, base: pygit2.Commit) -> bool:
    folder = _folder_in(base.tree, run)
    if folder:
        return True
    branch = _tip(repo, f"refs/heads/{run.branch}")
    if branch is None or branch.id == base.id:
        return False
    # A branch with no protocol folder has no work yet: being behind base is not "merged".
    if _folder_in(branch.tree, run) is None:
        return False
    return bool(repo.descendant_of(base.id, branch.id))


def _folder_in(tree: pygit2.Tree, run: ProtocolRun) -> str | None:
    for name in dict.fromkeys((run.branch, run.id)):
        try:
            obj = tree[f"{PROTOCOLS_DIR}/{name}/plan.md"]
        except KeyError:
            continue
        if isinstance(obj, pygit2.Blob):
            return name
    return None


def _tip(repo: pygit2.Repository, name: str) -> pygit2.Commit | None:
    ref = repo.references.get(name)
    if ref is None:
        return None
    try:
        return ref.peel(pygit2.Commit)
    except (pygit2.GitError, ValueError):
        return None
