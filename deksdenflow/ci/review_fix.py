"""The review-fix job: the execute phase's engine gets the batch of reviewer comments (each
with its file and line, fenced as untrusted text) in the run's worktree; its change is
committed on the run's branch and pushed, and `run.review_addressed` lifts the review block
(docs/decisions/1592-review-comments-go-back.md). Requested only by the reconciler."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

from ..context.project import Project
from ..domain.config.settings import ProjectSettings
from ..domain.eventlog.payloads import RunNote, RunReviewAddressed
from ..domain.runs.models import Job, JobKind, ReviewComment, RunSnapshot
from ..jobs import queue
from ..store import Tx
from ..workflow.phases import agents, contract, variants
from ..workflow.phases.planning import folder
from .fix import begin_fix, run_fix

ANSWER_TIMEOUT_S = 60


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
        started = begin_fix(project, job, "review fix")
        if started is None:
            return None
        snap, settings, worktree = started
        comments = list(snap.run.review_comments)
        round_ = snap.run.review_rounds + 1
        prompt = variants.render(project.root, snap, settings, "fix-review", {
            "protocol": snap.run.id, "branch": snap.run.branch, "worktree": str(worktree),
            "round": str(round_), "comments": comments_text(comments),
            "plan_text": contract.read(snap, worktree, folder(snap), "plan.md"),
        })
        call, commit = run_fix(project, snap, settings, worktree, job, prompt,
                               f"review fix, round {round_}",
                               f"review round {round_} [dflow fix-review]")
        summary = agents.clean(call.result.output.strip(), settings, 2000)
        answered = answer(project, snap, round_, commit, summary)
        return lambda tx: _record(tx, snap, job, call, commit, settings, round_, len(comments),
                                  answered)

    def on_failure(self, tx: Tx, job: Job, error: str, final: bool) -> None:
        if job.run is None or not final:
            return
        used = tx.run(job.run).run.review_rounds
        tx.emit(RunReviewAddressed(round=used + 1, gave_up=True), run=job.run)
        tx.emit(RunNote(level="warning", text=f"review fix gave up: {error[:500]}"), run=job.run)


def answer(project: Project, snap: RunSnapshot, round_: int, commit: str | None,
           summary: str) -> str:
    """Answer on the PR/MR which comments the fix addressed, through gh/glab when present;
    returns where it was posted ("" when not: the run's note carries the text)."""
    url = snap.run.pr_url or ""
    tool = "glab" if "gitlab" in url else "gh"
    if not url or shutil.which(tool) is None:
        return ""
    text = (f"dflow review round {round_}: "
            f"{'pushed ' + commit[:12] if commit else 'no change'}\n\n{summary}")
    argv = (["gh", "pr", "comment", url, "--body", text] if tool == "gh"
            else ["glab", "mr", "note", snap.run.branch, "--message", text])
    try:
        done = subprocess.run(argv, cwd=project.root, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=ANSWER_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return url if done.returncode == 0 else ""


def _record(tx: Tx, snap: RunSnapshot, job: Job, call: agents.AgentCall, commit: str | None,
            settings: ProjectSettings, round_: int, addressed: int, answered: str) -> None:
    agents.save_transcript(tx, snap, settings, f"fix-review-{job.id}", call)
    summary = agents.clean(call.result.output.strip(), settings, 2000)
    done = "pushed " + commit[:12] if commit else "the engine changed nothing"
    tx.emit(RunReviewAddressed(round=round_, addressed=addressed, commit=commit),
            run=snap.run.uid)
    if commit is not None and settings.qa.policy != "never" and snap.steps:
        # QA reviews the last step again with the fix on the branch, as green CI does
        # (ci/report.py); a FAIL blocks the run as any QA verdict would.
        queue.request(tx, JobKind.QA, run=snap.run.uid, step=snap.steps[-1].index)
    where = f"answered on {answered}" if answered else "post the summary as the answer on the PR"
    tx.emit(RunNote(text=f"review round {round_}: {done}; {where}",
                    summary=summary, commit=commit, **call.figures().fields()),
            run=snap.run.uid)
