"""`dflow review report --event-file FILE`: a CI job records a reviewer's review, review
comment or MR note on the run whose branch the payload names, and pushes it.

Like `dflow ci report` it works in a fresh CI checkout and a branch that maps to no run is a
notice, never a red job. The comments are stored redacted (the store's one pass); with
`review.fix = auto` a changes-requested review makes the reconciler request one fix job
(docs/decisions/1592-review-comments-go-back.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, Field

from .. import environment
from ..context.parts import Parts
from ..domain.eventlog.payloads import RunReviewReported
from ..domain.intake import review_from_payload
from ..domain.runs.models import JobKind
from ..errors import RunNotFound, UsageError
from ..sync import service
from . import env as ci_env
from .report import CiReport as _Carrier
from .report import _bring_state, _remote


class ReviewReport(BaseModel):
    branch: str
    reviewer: str = ""
    state: str = ""
    comments: int = 0
    run: str | None = None
    fix_requested: bool = False
    pushed: bool = False
    message: str = ""
    warnings: list[str] = Field(default_factory=list)


def report(parts: Parts, path: str | os.PathLike[str] = ".", *, event_file: Path,
           remote: str | None = None) -> ReviewReport:
    try:
        doc = json.loads(Path(event_file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise UsageError(f"cannot read the event file {event_file} as JSON "
                         f"({e.__class__.__name__}); pass the webhook payload's path") from e
    review = review_from_payload(doc, f"the event file {event_file}")
    result = ReviewReport(branch=review.branch, reviewer=review.reviewer, state=review.state,
                          comments=len(review.comments))
    ctx = ci_env.detect()
    project = parts.open_project(path)
    name = remote or environment.text("DFLOW_PROJECT_REMOTE") or _remote(project)
    carrier = _Carrier(status="running", branch=review.branch)
    _bring_state(project, name, carrier)
    result.warnings += carrier.warnings
    if not project.store.is_initialized:
        result.message = f"notice: no dflow state here or on '{name}'; nothing to report"
        return result
    try:
        snap = project.view().find_run(review.branch)
    except RunNotFound:
        result.message = (f"notice: branch '{review.branch}' belongs to no protocol run; "
                          "nothing recorded")
        return result
    actor = f"ci:{ctx.provider}:{ctx.job or 'job'}" if ctx.provider else None
    payload = RunReviewReported(forge=review.forge, reviewer=review.reviewer,
                                state=review.state, comments=review.comments)
    project.store.transact(lambda tx: tx.emit(payload, run=snap.run.uid, actor=actor))
    result.run = snap.run.id
    after = project.view().run(snap.run.uid)  # what the reconciler asked for in that commit
    result.fix_requested = after is not None and any(
        j.kind == JobKind.FIX_REVIEW for j in after.open_jobs)
    if name in project.store.remote_names():
        result.pushed = service.sync(project, name).pushed
    extra = "; requested a review fix" if result.fix_requested else ""
    result.message = (f"recorded {review.state.replace('_', ' ')} by "
                      f"{review.reviewer or 'a reviewer'} ({len(review.comments)} comment(s)) "
                      f"for {snap.run.id}{extra}")
    return result
