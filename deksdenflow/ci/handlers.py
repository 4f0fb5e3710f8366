"""Registers the CI area's job handlers: fix-CI and open-PR (imported by jobs.runner)."""

from __future__ import annotations

from collections.abc import Callable

from ..domain.models import Job, JobKind
from ..jobs.runner import register
from ..store import Tx
from ..workflow.project import Project
from . import pr
from .fix import FixCiHandler


class OpenPrHandler:
    """JobKind.OPEN_PR: `dflow pr` as a job (it records run.pr_opened itself)."""

    def run(self, project: Project, job: Job, worker: str) -> Callable[[Tx], None] | None:
        pr.open_pr(project, job.run or "")
        return None

    def on_failure(self, tx: Tx, job: Job, error: str, final: bool) -> None:
        return None


def install() -> None:
    register(JobKind.FIX_CI, FixCiHandler())
    register(JobKind.OPEN_PR, OpenPrHandler())


install()
