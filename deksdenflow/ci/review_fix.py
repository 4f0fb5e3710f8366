"""The review-fix job: the execute phase's engine gets the batch of reviewer comments (each
with its file and line, fenced as untrusted text) in the run's worktree; its change is
committed on the run's branch and pushed, and `run.review_addressed` lifts the review block
(docs/decisions/1592-review-comments-go-back.md). Requested only by the reconciler."""

from __future__ import annotations

from collections.abc import Callable

from ..context.project import Project
from ..domain.models import Job, ReviewComment, RunSnapshot
from ..domain.payloads import RunNote, RunReviewAddressed
from ..domain.settings import ProjectSettings
from ..errors import DflowError
from ..store import Tx
from ..sync import transport
from ..workflow import agents, budget, changes, contract, variants
from ..workflow.planning import folder


def comments_text(comments: list[ReviewComment]) -> str:
    """One block per comment: where (file:line, or the whole change), who, what."""
    blocks = []
    for n, c in enumerate(comments, 1):
        where = f"{c.file}:{c.line}" if c.file and c.line else (c.file or "the whole change")
        blocks.append(f"{n}. {where} ({c.reviewer or 'reviewer'}, {c.state}):\n{c.body.strip()}")
    return "\n\n".join(blocks)


class FixReviewHandler:
    """JobKind.FIX_REVIEW."""

    def run(self, project: Project, job: Job, worker: str) -> Callable[[Tx], None] | None:
        snap = project.view().run(job.run or "")
        if snap is None or snap.run.cancelled or snap.run.merged:
            return None
        settings = project.settings()
        why = budget.stops(snap, settings, budget.month_for(project.view(), snap, settings))
        if why is not None:
            raise DflowError(f"no review fix: {why}")
        comments = list(snap.run.review_comments)
        round_ = snap.run.review_rounds + 1
        worktree = agents.worktree_of(snap)
        changes.prepare(worktree, job, snap.run.id)
        prompt = variants.render(project.root, snap, settings, "fix-review", {
            "protocol": snap.run.id, "branch": snap.run.branch, "worktree": str(worktree),
            "round": str(round_), "comments": comments_text(comments),
            "plan_text": contract.read(snap, worktree, folder(snap), "plan.md"),
        })
        begin = changes.head(worktree)
        try:
            call = agents.invoke(project.parts, snap, settings, "execute", prompt,
                                 model_phase="fix_ci")
        except DflowError:
            changes.set_aside(worktree, f"dflow: failed review fix, round {round_}", begin)
            raise
        commit = changes.commit(
            worktree, f"fix({snap.run.id}): review round {round_} [dflow fix-review]",
            settings, begin)
        if commit is not None and settings.project.remote in project.store.remote_names():
            transport.push_branch(worktree, project.store, settings.project.remote,
                                  snap.run.branch)
        return lambda tx: _record(tx, snap, job, call, commit, settings, round_, len(comments))

    def on_failure(self, tx: Tx, job: Job, error: str, final: bool) -> None:
        if job.run is None or not final:
            return
        used = tx.run(job.run).run.review_rounds
        tx.emit(RunReviewAddressed(round=used + 1, gave_up=True), run=job.run)
        tx.emit(RunNote(level="warning", text=f"review fix gave up: {error[:500]}"), run=job.run)


def _record(tx: Tx, snap: RunSnapshot, job: Job, call: agents.AgentCall, commit: str | None,
            settings: ProjectSettings, round_: int, addressed: int) -> None:
    agents.save_transcript(tx, snap, settings, f"fix-review-{job.id}", call)
    summary = agents.clean(call.result.output.strip(), settings, 2000)
    done = "pushed " + commit[:12] if commit else "the engine changed nothing"
    tx.emit(RunReviewAddressed(round=round_, addressed=addressed, commit=commit),
            run=snap.run.uid)
    # What to answer on the PR: the agent's reply, per comment (post it, or let gh/glab).
    tx.emit(RunNote(text=f"review round {round_}: {done}; answer on the PR with the summary",
                    summary=summary, commit=commit, **call.figures().fields()),
            run=snap.run.uid)
