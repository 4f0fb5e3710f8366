"""The fix-CI job: the execution engine gets the redacted CI failure in the run's worktree,
its change is committed and pushed, and the next `dflow ci report` says whether it worked.
Bounded by `ci.max_fix_attempts` (when the job is requested) and the run's token budget."""

from __future__ import annotations

from collections.abc import Callable

from ..context.project import Project
from ..domain.config.settings import ProjectSettings
from ..domain.eventlog.payloads import RunNote
from ..domain.runs.models import Job, RunSnapshot
from ..errors import DflowError
from ..git.worktree import Worktree
from ..store import Tx
from ..sync import transport
from ..workflow.checkouts import placement, worktrees
from ..workflow.delivery.push_check import check_branch
from ..workflow.phases import agents, changes, contract, variants
from ..workflow.phases.planning import folder
from ..workflow.phases.prompts import Prompt
from ..workflow.spend import budget


def begin_fix(project: Project, job: Job, what: str
              ) -> tuple[RunSnapshot, ProjectSettings, Worktree] | None:
    """What a fix job (CI's or a review's) starts from: the run within its budget, this
    clone's worktree at the recorded work, ready for the agent; None when the run is done."""
    snap = project.view().run(job.run or "")
    if snap is None or snap.run.cancelled or snap.run.merged:
        return None
    settings = project.settings()
    why = budget.stops(snap, settings, budget.month_for(project.view(), snap, settings))
    if why is not None:
        raise DflowError(f"no {what}: {why}")
    snap = placement.prepare(project, snap)  # this clone's worktree at the recorded work
    worktree = agents.worktree_of(project, snap)
    changes.prepare(worktree, job, snap.run.id)
    return snap, settings, worktree


def run_fix(project: Project, snap: RunSnapshot, settings: ProjectSettings,
            worktree: Worktree, job: Job, prompt: Prompt, attempt: str,
            subject: str) -> tuple[agents.AgentCall, str | None]:
    """The agent's fix in the worktree, committed on the run's branch (set aside when the
    agent fails) and pushed once it passed the push check; the call and the commit, if any."""
    begin = changes.head(worktree)
    try:
        call = agents.invoke(project.parts, snap, settings, "execute", prompt, job=job,
                             model_phase="fix_ci", cwd=worktree)
    except DflowError:
        changes.set_aside(worktree, f"dflow: failed {attempt}", begin)
        raise
    commit = changes.commit(worktree, f"fix({snap.run.id}): {subject}", settings, begin)
    if commit is not None and settings.project.remote in project.store.remote_names():
        check_branch(project.root, worktrees.start_point(project, snap.run.base),
                     f"refs/heads/{snap.run.branch}", settings, f"push {snap.run.branch}")
        transport.push_branch(worktree.path, project.store, settings.project.remote,
                              snap.run.branch)
    return call, commit


class FixCiHandler:
    """JobKind.FIX_CI."""

    def run(self, project: Project, job: Job, worker: str) -> Callable[[Tx], None] | None:
        started = begin_fix(project, job, "CI fix")
        if started is None:
            return None
        snap, settings, worktree = started
        attempt = int(job.payload.get("attempt", 1))
        prompt = variants.render(project.root, snap, settings, "fix-ci", {
            "protocol": snap.run.id, "branch": snap.run.branch, "worktree": str(worktree),
            "url": str(job.payload.get("url") or "no URL"), "attempt": str(attempt),
            "excerpt": _excerpt(job, settings),
            "plan_text": contract.read(snap, worktree, folder(snap), "plan.md"),
        })
        call, commit = run_fix(project, snap, settings, worktree, job, prompt,
                               f"fix-CI attempt {attempt}",
                               f"CI failure, attempt {attempt} [dflow fix-ci]")
        return lambda tx: _record(tx, snap, job, call, commit, settings)

    def on_failure(self, tx: Tx, job: Job, error: str, final: bool) -> None:
        if job.run is not None and final:
            tx.emit(RunNote(level="warning", text=f"fix-CI gave up: {error[:500]}"), run=job.run)


def _excerpt(job: Job, settings: ProjectSettings) -> str:
    if not settings.retry.feeds_findings("fix_ci"):
        return "(not fed back: retry.fix_ci.findings is false; read the CI log at the URL)"
    return str(job.payload.get("excerpt") or "(no log excerpt was reported)")


def _record(tx: Tx, snap: RunSnapshot, job: Job, call: agents.AgentCall, commit: str | None,
            settings: ProjectSettings) -> None:
    name = f"fix-ci-{job.id}"
    agents.save_transcript(tx, snap, settings, name, call)
    summary = agents.clean(call.result.output.strip(), settings, 2000)
    done = "pushed " + commit[:12] if commit else "the engine changed nothing"
    tx.emit(RunNote(text=f"fix-CI attempt {job.payload.get('attempt', 1)}: {done}",
                    summary=summary, commit=commit, **call.figures().fields()),
            run=snap.run.uid)
