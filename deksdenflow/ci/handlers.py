"""The CI area's job handlers, fix-CI and open-PR, for the composition root's registry."""

from __future__ import annotations

from collections.abc import Callable

from ..context.parts import JobHandler
from ..context.project import Project
from ..domain.runs.models import Job, JobKind
from ..store import Tx
from . import pr
from .fix import FixCiHandler
from .review_fix import FixReviewHandler


class OpenPrHandler:
    """JobKind.OPEN_PR: `dflow pr` as a job (it records run.pr_opened itself)."""

    def run(self, project: Project, job: Job, worker: str) -> Callable[[Tx], None] | None:
        pr.open_pr(project, job.run or "")
        return None

    def on_failure(self, tx: Tx, job: Job, error: str, final: bool) -> None:
        return None


def handlers() -> dict[JobKind, JobHandler]:
    return {JobKind.FIX_CI: FixCiHandler(), JobKind.OPEN_PR: OpenPrHandler(),
            JobKind.FIX_REVIEW: FixReviewHandler()}
