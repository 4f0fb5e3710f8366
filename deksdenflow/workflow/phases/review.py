"""The QA job: a read-only review with a structured verdict. No valid verdict is an error,
never a PASS; FAIL blocks the step with its findings (and may re-run it, per qa.auto_retry)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from ...context.project import Project
from ...domain.agents.agent_output import QaVerdict, strict_json
from ...domain.config.settings import ProjectSettings
from ...domain.decisions.hints import QA_COULD_NOT_RUN
from ...domain.eventlog.payloads import StepBlocked, StepQaVerdict, StepRetried
from ...domain.runs.models import Job, RunSnapshot, StepRun, StepStatus
from ...domain.schemas import schema_for
from ...errors import AgentOutputError, EngineError
from ...git.worktree import Worktree
from ...store import Tx
from ..checkouts import placement
from ..lifecycle.runs import folder
from . import agents, changes, contract, qa_diff, variants
from .execution import step_values, worktree_for

REVIEWABLE = {StepStatus.NEEDS_QA, StepStatus.COMPLETED, StepStatus.BLOCKED}


def parse_verdict(output: str, snap: RunSnapshot, step: int) -> QaVerdict:
    try:
        return QaVerdict.model_validate(strict_json(output))
    except (ValueError, ValidationError) as exc:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise AgentOutputError(f"QA of {snap.run.id} step {step:02d} gave no valid verdict "
                               f"({first}); a missing verdict never counts as PASS") from exc


def _contract_note(worktree: Worktree, snap: RunSnapshot, step: StepRun) -> str:
    changed = contract.changed_since_plan(worktree, snap, folder(snap), step.commit or "")
    return contract.changed_note(changed) if changed else ""


def _may_auto_retry(step: StepRun, settings: ProjectSettings) -> bool:
    return step.attempts <= settings.qa.auto_retry


class QaHandler:
    """JobKind.QA."""

    def __init__(self) -> None:
        self.failed = agents.FailedTranscripts()

    def run(self, project: Project, job: Job, worker: str) -> Callable[[Tx], None] | None:
        view = project.view()
        snap = view.run(job.run or "")
        step = snap.step(job.step if job.step is not None else -1) if snap else None
        if snap is None or step is None or snap.run.cancelled or step.status not in REVIEWABLE:
            return None
        settings = project.settings(view)
        snap = placement.prepare(project, snap)  # this clone's worktree at the recorded work
        worktree = worktree_for(project, snap, step)
        changes.require_settled(worktree, f"step {step.index:02d}'s commit")
        prompt = variants.render(project.root, snap, settings, "qa", {
            **step_values(snap, step, worktree), "summary": step.summary or "(none)",
            "diff": _contract_note(worktree, snap, step)
                    + qa_diff.review_diff(worktree, step.commit),
        })
        call: agents.AgentCall | None = None
        try:
            call = agents.invoke(project.parts, snap, settings, "qa", prompt, schema_for("qa"), job,
                                 cwd=worktree)
            verdict = parse_verdict(call.result.output, snap, step.index)
        except EngineError as exc:
            self.failed.keep(job.id, exc, call)
            raise
        return lambda tx: self._record(tx, snap, step, job, call, verdict, settings)

    def _record(self, tx: Tx, snap: RunSnapshot, step: StepRun, job: Job,
                call: agents.AgentCall, verdict: QaVerdict, settings: ProjectSettings) -> None:
        uid = snap.run.uid
        if tx.run(uid).run.cancelled:
            return
        agents.save_transcript(tx, snap, settings, f"{step.index:02d}-qa-{job.id}", call)
        tx.emit(StepQaVerdict(
            verdict=verdict.verdict, summary=agents.line(verdict.summary, settings),
            findings=[agents.line(f, settings, 500) for f in verdict.findings[:50]],
            **call.figures().fields()), run=uid, step=step.index)
        current = tx.run(uid).step(step.index)
        if verdict.verdict == "FAIL" and current and _may_auto_retry(current, settings):
            tx.emit(StepRetried(reason="QA FAIL; re-running with the findings"),
                    run=uid, step=step.index)

    def on_failure(self, tx: Tx, job: Job, error: str, final: bool) -> None:
        if job.run is None or job.step is None:
            return
        self.failed.save(tx, job.id, job.run, f"{job.step:02d}-qa-{job.id}-failed-{job.attempts}")
        if not final:
            return
        step = tx.run(job.run).step(job.step)
        if step is not None and step.status == StepStatus.NEEDS_QA:
            tx.emit(StepBlocked(reason=QA_COULD_NOT_RUN + error), run=job.run, step=job.step)
