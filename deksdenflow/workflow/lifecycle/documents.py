"""The texts the console shows: plan and step files, transcripts and logs (a query API).

Protocol files live in `.protocols/NNNN-name/` on the run's branch, where reviewers see them;
the console reads them as committed there (a copy stored as an artifact wins, since it is on
the state ref and so is current on every clone).
"""

from __future__ import annotations

import re

from ...context.project import Project
from ...domain.agents.redaction import strip_controls
from ...domain.runs.layout import protocol_folder
from ...domain.runs.models import RunSnapshot, StepRun
from ...domain.runs.transcripts import numbered
from ...errors import DflowError
from ...store import StateView
from ...store.branches import committed_file, file_at
from ...sync import work
from ..delivery import diffs
from ..delivery.diffs import Diff


def _decode(data: bytes | None) -> str | None:
    """Branch files are agent-written: shown without terminal control sequences."""
    return strip_controls(data.decode("utf-8", errors="replace")) if data is not None else None


def protocol_file(project: Project, view: StateView | None, snap: RunSnapshot,
                  name: str) -> str | None:
    """`name` from the run's protocol folder: the stored artifact, else the branch's copy."""
    if view is not None:
        stored = view.artifact(snap.run.uid, name)
        if stored is not None:
            return _decode(stored)
    # The one owner of the protocol folder's path (a renumbering does not rename it).
    path = name if "/" in name else f"{protocol_folder(snap.run)}/{name}"
    if snap.run.plan_commit and name != "log.md":  # the contract as planned (decision 1545)
        planned = file_at(project.store, snap.run.plan_commit, path)
        if planned is not None:
            return _decode(planned)
    return _decode(committed_file(project.store, snap.run.branch or snap.run.id, path,
                                  at=work.recorded_tip(snap)))


def plan_markdown(project: Project, view: StateView | None, snap: RunSnapshot) -> str:
    text = protocol_file(project, view, snap, "plan.md")
    if text is not None:
        return text
    if not snap.run.planned:
        return f"# {snap.run.id}\n\nNot planned yet. Press **p** to plan it.\n\n> {snap.run.task}"
    return f"# {snap.run.id}\n\nThe plan is on branch `{snap.run.branch}`, not in this clone."


def step_markdown(project: Project, view: StateView | None, snap: RunSnapshot,
                  step: StepRun) -> str:
    if not step.file:
        return f"Step {step.index:02d} has no step file."
    text = protocol_file(project, view, snap, step.file)
    return text if text is not None else f"`{step.file}` is not in this clone yet."


def step_artifacts(view: StateView | None, snap: RunSnapshot, step: int) -> list[str]:
    """Artifacts of this step only: its transcripts (execute and QA, in the order they ran,
    as `dflow logs` numbers them) and what is filed under `steps/NN/`; never another step's
    (a job id or an attempt number in a name is not a step number)."""
    if view is None:
        return []
    names = view.artifact_names(snap.run.uid)
    folder = re.compile(rf"^steps/0*{step}/")
    mine = [name for name, index, *_ in numbered(snap.run.id, names) if index == step]
    return mine + [n for n in names if folder.match(n) and n not in mine]


def artifact_text(view: StateView | None, snap: RunSnapshot, name: str) -> str:
    data = view.artifact(snap.run.uid, name) if view is not None else None
    return _decode(data) or ""


def search_lines(text: str, query: str, limit: int = 2000) -> list[tuple[int, str]]:
    """Lines containing every word of `query` (case-insensitive), with their numbers."""
    words = query.lower().split()
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        low = line.lower()
        if all(w in low for w in words):
            found.append((number, line))
            if len(found) >= limit:
                break
    return found


def diff_for(project: Project, snap: RunSnapshot, step: int | None = None
             ) -> tuple[Diff | None, str]:
    """The run's (or a step's) change for the Diff tab, or the sentence saying why there is none."""
    try:
        return diffs.diff(project, snap, step), ""
    except DflowError as exc:
        return None, str(exc)


def findings_for(snap: RunSnapshot, step: int | None = None) -> list[str]:
    """QA findings to read beside the diff: one step's, or every step's with its number."""
    chosen = [s for s in snap.steps if step is None or s.index == step]
    return [f"{s.index:02d} {s.qa.verdict}: {f}" if step is None else f"{s.qa.verdict}: {f}"
            for s in chosen if s.qa is not None for f in s.qa.findings]
