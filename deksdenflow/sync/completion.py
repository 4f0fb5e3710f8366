"""Completion on merge: a run is done when its work is in the base branch, as git shows it.

Seen either way a team merges: the run's branch tip is an ancestor of the base (merge
commit or fast-forward), or the base holds the run's protocol folder (squash and rebase
merges rewrite the commits but carry `.protocols/NNNN-name/` along).
"""

from __future__ import annotations

from ..context.project import Project
from ..domain.layout import protocol_folders
from ..domain.models import ProtocolRun
from ..domain.payloads import RunMerged
from ..store import Tx
from ..store.branches import is_merged


def merged_runs(project: Project, remote: str | None = None) -> list[ProtocolRun]:
    """Runs not yet merged whose branch is merged into their base (cheap: ref lookups).

    A run whose steps all passed (`completed`, ready to land) is looked at too: landing it is
    what makes it merged (docs/decisions/1000-ready-and-merged.md)."""
    found = []
    for snap in project.view().runs():
        run = snap.run
        if run.cancelled or run.failed or run.merged or not run.branch:
            continue
        bases = [f"refs/remotes/{remote}/{run.base}"] if remote else []
        markers = [f"{folder}/plan.md" for folder in protocol_folders(run)]
        if any(is_merged(project.store, run.branch, base, markers)
               for base in [*bases, f"refs/heads/{run.base}"]):
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
