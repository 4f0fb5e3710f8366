"""The execute job: one step, run workspace-write in the worktree, committed on the branch."""

from __future__ import annotations

from collections.abc import Callable

from ... import faults
from ...context.project import Project
from ...domain.agents.text_shape import TITLE_CHARS, one_line
from ...domain.config.settings import ProjectSettings
from ...domain.eventlog.payloads import StepBlocked, StepFailed, StepFinished, StepStarted
from ...domain.runs.models import Job, RunSnapshot, StepRun, StepStatus
from ...errors import EngineError
from ...git.worktree import Worktree
from ...jobs.runner import attempt_number
from ...store import Tx
from ..checkouts import ancestry, placement, step_worktrees, worktrees
from ..delivery import integration
from ..lifecycle import scheduling
from . import agents, changes, contract, prompts, resolving, variants
from .planning import folder

STARTABLE = {StepStatus.PENDING, StepStatus.FAILED}


def findings_section(step: StepRun) -> str:
    """The last QA's findings, for a re-run after FAIL (the executor should fix them)."""
    if step.qa is None or step.qa.verdict != "FAIL":
        return ""
    lines = "\n".join(f"- {f}" for f in step.qa.findings) or f"- {step.qa.summary}"
    return f"\n## Findings from the last QA\n\n{step.qa.summary}\n\n{lines}\n"


def _findings(project: Project, step: StepRun) -> str:
    """The findings, unless the step type's retry policy says not to feed them back."""
    feeds = project.settings().retry.feeds_findings(step.type.value)
    return findings_section(step) if feeds else ""


def step_values(snap: RunSnapshot, step: StepRun, worktree: Worktree) -> dict[str, str]:
    """Placeholders shared by the execute and QA prompts."""
    return {
        "protocol": snap.run.id, "step": f"{step.index:02d}", "branch": snap.run.branch,
        "worktree": str(worktree), "step_file": f"{folder(snap)}/{step.file}",
        "step_text": contract.read(snap, worktree, folder(snap), step.file),
    }


def begin(project: Project, tx: Tx, job: Job) -> tuple[RunSnapshot, StepRun] | None:
    """Stage step.started for the job's step, when it may start; the step as it now is."""
    snap = tx.run(job.run or "")
    step = snap.step(job.step if job.step is not None else -1)
    if snap.run.cancelled or snap.run.paused or step is None:
        return None
    if step.status in STARTABLE:
        settings = project.settings(tx.view)
        name = agents.engine_name(snap, settings, "execute", job)
        model = agents.model_of(snap, settings, name, job, "execute")
        tx.emit(StepStarted(engine=name, model=model, job=job.id,
                            variant=snap.run.variant or None),
                run=snap.run.uid, step=step.index)
    elif step.status != StepStatus.RUNNING:
        return None  # approved or blocked meanwhile: nothing to do
    snap = tx.run(snap.run.uid)  # the transaction ends here; nobody else holds this copy
    return snap, snap.step(step.index) or step


def start(project: Project, job: Job) -> tuple[RunSnapshot, StepRun] | None:
    """The step to run: already started by the commit that claimed the job (`on_claim`), or
    started now in its own small commit (a claim made without the hook)."""
    snap = project.view().run(job.run or "")
    step = snap.step(job.step) if snap is not None and job.step is not None else None
    if (snap is not None and step is not None and step.status == StepStatus.RUNNING
            and not snap.run.cancelled and not snap.run.paused):
        return snap, step
    return project.store.transact(lambda tx: begin(project, tx, job))


def _prompt(project: Project, snap: RunSnapshot, step: StepRun,
            worktree: Worktree) -> prompts.Prompt:
    where = folder(snap)
    return variants.render(project.root, snap, project.settings(), "execute", {
        **step_values(snap, step, worktree), "findings": _findings(project, step),
        "plan_text": contract.read(snap, worktree, where, "plan.md"),
        "context_text": contract.read(snap, worktree, where, "context.md"),
    })


def worktree_for(project: Project, snap: RunSnapshot, step: StepRun) -> Worktree:
    """Where a step's agent works: the run's worktree, or in a parallel run the step's own
    (made now, from the run branch, when it does not exist yet)."""
    if not snap.run.parallel or step.integrated:
        return agents.worktree_of(project, snap)
    return worktrees.located(project, step_worktrees.ensure(project.root, snap, step.index))


def _record(tx: Tx, snap: RunSnapshot, step: StepRun, job: Job, call: agents.AgentCall,
            commit: str | None, settings: ProjectSettings) -> None:
    """The finishing commit: transcript and step.finished (the reconciler adds what follows)."""
    uid = snap.run.uid
    if tx.run(uid).run.cancelled:
        return
    name = f"{step.index:02d}-execute-{job.id}-{step.attempts}"
    agents.save_transcript(tx, snap, settings, name, call)
    tx.emit(StepFinished(commit=commit, next=scheduling.finished_next(settings),
                         summary=agents.line(call.result.output, settings),
                         **call.figures().fields()), run=uid, step=step.index)


def _record_adopted(tx: Tx, snap: RunSnapshot, step: StepRun, commit: str,
                    settings: ProjectSettings) -> None:
    """An earlier attempt of this job committed, then its worker died before recording it."""
    if tx.run(snap.run.uid).run.cancelled:
        return
    tx.emit(StepFinished(
        commit=commit, next=scheduling.finished_next(settings),
        summary="(adopted the commit an earlier, interrupted attempt of this job made)"),
        run=snap.run.uid, step=step.index)


class ExecuteHandler:
    """JobKind.EXECUTE."""

    def __init__(self) -> None:
        self.failed = agents.FailedTranscripts()

    def run(self, project: Project, job: Job, worker: str) -> Callable[[Tx], None] | None:
        started = start(project, job)
        if started is None:
            return None
        snap, step = started
        snap = placement.prepare(project, snap)  # this clone's worktree at the recorded work
        settings = project.settings()
        worktree = worktree_for(project, snap, step)
        if snap.run.parallel:
            integration.abort_unfinished(worktree)  # a killed resolve attempt's merge
        on = (step_worktrees.branch(snap, step.index) if snap.run.parallel and not step.integrated
              else snap.run.branch)  # the branch worktree_for's worktree has checked out
        adopted = changes.adoptable(worktree, job.id) if job.attempts > 1 else None
        if adopted is not None:
            ancestry.check_on_branch(project.root, adopted, on, f"step {step.index:02d}")
            changes.clear_stale_index_lock(worktree)
            return lambda tx: _record_adopted(tx, snap, step, adopted, settings)
        changes.prepare(worktree, job, snap.run.id)
        begin = changes.head(worktree)
        resolve = snap.run.parallel and bool(step.conflict)
        tip, files = resolving.begin(worktree, snap) if resolve else ("", [])
        prompt = (resolving.render(project, snap, step, worktree, files,
                                   step_values(snap, step, worktree)) if resolve
                  else _prompt(project, snap, step, worktree))
        call: agents.AgentCall | None = None
        faults.point(f"{faults.STEP_POINT}{step.index:02d}")  # tests: a kill mid-step
        try:
            call = agents.invoke(project.parts, snap, settings, "execute", prompt, job=job,
                                 cwd=worktree)
            if resolve:
                resolving.check_resolved(worktree, files)
        except EngineError as exc:
            self.failed.keep(job.id, exc, call)
            integration.abort_unfinished(worktree)
            # The next attempt starts from the step's start commit; `git stash list` keeps this.
            changes.set_aside(worktree, f"dflow: failed attempt {job.attempts} of job {job.id}",
                              begin)
            raise
        what = "resolve the merge of" if resolve else ""
        message = (f"feat({snap.run.id}): {what + ' ' if what else ''}"
                   f"{one_line(step.title, TITLE_CHARS) or 'step ' + str(step.index)} "
                   f"[protocol-{snap.run.number:04d}/{step.index:02d}]\n\n"
                   f"{changes.JOB_TRAILER}: {job.id}")
        retry = changes.retry_hint(worktree, snap.run.id, step.index)
        commit = (resolving.commit(worktree, begin, tip, message, settings, retry) if resolve
                  else changes.commit(worktree, message, settings, begin, retry))
        ancestry.check_on_branch(project.root, commit, on, f"step {step.index:02d}")
        return lambda tx: _record(tx, snap, step, job, call, commit, settings)

    def on_claim(self, project: Project, tx: Tx, job: Job) -> None:
        """Record step.started in the commit that claims the job (one commit, not two)."""
        begin(project, tx, job)

    def on_failure(self, tx: Tx, job: Job, error: str, final: bool) -> None:
        if job.run is None or job.step is None:
            return
        self.failed.save(tx, job.id, job.run,
                         f"{job.step:02d}-execute-{job.id}-failed-"
                         f"{attempt_number(tx.run(job.run), job)}")
        step = tx.run(job.run).step(job.step)
        if step is not None and step.status == StepStatus.RUNNING:
            tx.emit(StepFailed(reason=error, final=final), run=job.run, step=job.step)
        elif step is not None and final and step.status == StepStatus.PENDING:
            tx.emit(StepBlocked(reason=error), run=job.run, step=job.step)
