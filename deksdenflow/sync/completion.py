"""Completion on merge: a run is done when its work is in the base branch, as git shows it.

Seen either way a team merges: the run's branch tip is an ancestor of the base (merge
commit or fast-forward), or the base holds the run's protocol folder (squash and rebase
merges rewrite the commits but carry `.protocols/NNNN-name/` along).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import NamedTuple

from ..context.project import Project
from ..domain.eventlog.payloads import RunMerged
from ..domain.runs.layout import folders_of
from ..store import Tx
from ..store.branches import is_merged


class Candidate(NamedTuple):
    """A run that may have been merged, as its run.json says (not validated here: the
    transaction that records it reads the run through the store)."""

    uid: str
    branch: str
    base: str


def merged_runs(project: Project, remote: str | None = None,
                uids: Collection[str] | None = None) -> list[Candidate]:
    """Runs not yet merged whose branch is merged into their base (cheap: ref lookups, and
    each run.json parsed as JSON, not validated: this runs before every read that found a
    ref moved, and after every sync).

    A run whose steps all passed (`completed`, ready to land) is looked at too: landing it is
    what makes it merged (docs/decisions/1000-ready-and-merged.md). Only the runs `uids`,
    when given (the others were looked at with the same refs)."""
    view = project.view()
    found = []
    for uid in view.run_versions() if uids is None else sorted(uids):
        run = _run_doc(view.snapshot_data(uid))
        if run is None or run.get("cancelled") or run.get("failed") or run.get("merged"):
            continue
        branch, base, number, name = (run.get(k) for k in ("branch", "base", "number", "name"))
        if not (isinstance(branch, str) and branch and isinstance(base, str)
                and isinstance(number, int) and isinstance(name, str)):
            continue  # not what this dflow writes: the store refuses it where it is read
        bases = [f"refs/remotes/{remote}/{base}"] if remote else []
        run_id = f"{number:04d}-{name}"
        markers = [f"{folder}/plan.md" for folder in folders_of(branch, run_id)]
        if any(is_merged(project.store, branch, ref, markers)
               for ref in [*bases, f"refs/heads/{base}"]):
            found.append(Candidate(uid, branch, base))
    return found


def _run_doc(data: bytes | None) -> dict[str, object] | None:
    try:
        run = json.loads(data)["run"] if data is not None else None
        return run if isinstance(run, dict) else None
    except (ValueError, TypeError, KeyError):
        return None  # the store refuses it where a transaction reads it


def record_merged(project: Project, remote: str | None = None,
                  uids: Collection[str] | None = None) -> list[str]:
    """Record run.merged for every run (of `uids`, when given) found merged; their ids."""
    found = merged_runs(project, remote, uids)
    if not found:
        return []

    def record(tx: Tx) -> list[str]:
        done = []
        for run in found:
            if tx.run(run.uid).run.merged:  # validated here, as every write reads a run
                continue
            tx.emit(RunMerged(branch=run.branch, base=run.base), run=run.uid, strict=False)
            done.append(tx.run(run.uid).run.id)
        return done

    return project.store.transact(record)
