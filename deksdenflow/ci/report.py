"""`dflow ci report`: a CI job records its result on the run of its branch, and pushes it.

It runs in a fresh CI checkout (shallow, detached HEAD, no local state): the state comes
from the remote, and a branch that maps to no run is a notice, never a red CI job.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel

from .. import environment
from ..context.parts import Parts
from ..context.project import Project
from ..domain.agents.redaction import redact, secret_values
from ..domain.config.settings import ProjectSettings
from ..domain.eventlog.payloads import JobPayload, RunCiReported, RunNote
from ..domain.runs.models import JobKind, RunSnapshot, StepStatus
from ..errors import NotInitialized, RunNotFound, UsageError
from ..git import runner
from ..jobs import queue
from ..store import Tx
from ..sync import service, transport
from ..workflow.spend import budget
from . import env as ci_env

STATUSES = ("running", "success", "failure")
EXCERPT_MAX = 4000
LOG_TAIL_READ = 64 * 1024


class CiReport(BaseModel):
    status: str
    branch: str
    url: str = ""
    run: str | None = None
    message: str = ""
    pushed: bool = False
    fix_requested: bool = False
    qa_requested: int = 0
    warnings: list[str] = []  # for the user (the CLI prints them on stderr)


def report(parts: Parts, path: str | os.PathLike[str] = ".", *, status: str,
           branch: str | None = None, url: str | None = None, log: Path | None = None,
           remote: str | None = None) -> CiReport:
    """Record `status` for the branch's run and push it (retried; see sync.service)."""
    if status not in STATUSES:
        raise UsageError(f"--status takes {', '.join(STATUSES)}, not '{status}'")
    ctx = ci_env.detect()
    project = parts.open_project(path)
    branch = branch or ctx.branch or _current_branch(project)
    if not branch:
        raise UsageError("could not tell the branch (detached HEAD, no CI variables); "
                         "pass --branch NAME")
    result = CiReport(status=status, branch=branch, url=url or ctx.url)
    name = remote or environment.text("DFLOW_PROJECT_REMOTE") or _remote(project)
    _bring_state(project, name, result)
    if not project.store.is_initialized:
        result.message = f"notice: no dflow state here or on '{name}'; nothing to report"
        return result
    try:
        snap = project.view().find_run(branch)
    except RunNotFound:
        result.message = f"notice: branch '{branch}' belongs to no protocol run; nothing recorded"
        return result
    settings = project.settings()
    excerpt = excerpt_of(log, settings) if log is not None else ""
    actor = f"ci:{ctx.provider}:{ctx.job or 'job'}"
    project.store.transact(lambda tx: _record(tx, snap, result, ctx.commit, excerpt, actor,
                                              settings))
    result.run = snap.run.id
    if name in project.store.remote_names():
        result.pushed = service.sync(project, name).pushed
    result.message = f"recorded CI {status} for {snap.run.id}" + _extras(result)
    return result


def _record(tx: Tx, snap: RunSnapshot, result: CiReport, commit: str, excerpt: str,
            actor: str, settings: ProjectSettings) -> None:
    uid = snap.run.uid
    before = tx.run(uid)
    streak = before.run.ci is not None and before.run.ci.status == "failure"
    tx.emit(RunCiReported(status=result.status, url=result.url, branch=result.branch,
                          commit=commit, excerpt=excerpt), run=uid, actor=actor, strict=False)
    if result.status == "failure":
        result.fix_requested = _request_fix(tx, uid, result, excerpt, commit, settings, streak)
    elif result.status == "success":
        result.qa_requested = _request_qa(tx, uid, settings)


def _request_fix(tx: Tx, uid: str, result: CiReport, excerpt: str, commit: str,
                 settings: ProjectSettings, streak: bool) -> bool:
    """With `ci.fix = auto`: a fix-CI job, bounded by max attempts and the token budget."""
    if settings.ci.fix != "auto":
        return False
    snap = tx.run(uid)
    if any(j.kind == JobKind.FIX_CI for j in snap.open_jobs):
        return False
    previous = [int(j.payload.get("attempt", 0)) for j in snap.jobs if j.kind == JobKind.FIX_CI]
    attempt = (max(previous, default=0) if streak else 0) + 1
    # The one budget rule (workflow/spend/budget.py): only `strict` stops new work.
    over_budget = budget.stops(snap, settings, budget.month_for(tx.view, snap, settings))
    if attempt > settings.ci.max_fix_attempts or over_budget:
        why = over_budget or f"{attempt - 1} fix attempts used"
        tx.emit(RunNote(text=f"no CI fix requested: {why}"), run=uid)
        return False
    queue.request(tx, JobKind.FIX_CI, run=uid, payload=JobPayload(
        attempt=attempt, excerpt=excerpt, url=result.url, commit=commit))
    return True


def _request_qa(tx: Tx, uid: str, settings: ProjectSettings) -> int:
    """Green CI reviews the steps waiting for QA (the `end` policy's trigger)."""
    snap = tx.run(uid)
    if settings.qa.policy == "never" or snap.open_jobs or snap.run.paused:
        return 0
    waiting = [s.index for s in snap.steps if s.status == StepStatus.NEEDS_QA]
    for index in waiting:
        queue.request(tx, JobKind.QA, run=uid, step=index)
    return len(waiting)


def excerpt_of(log: Path, settings: ProjectSettings) -> str:
    """The redacted tail of a CI log, at most EXCERPT_MAX characters, whole lines only."""
    try:
        with log.open("rb") as f:
            f.seek(max(0, log.stat().st_size - LOG_TAIL_READ))
            data = f.read()
    except OSError as exc:
        raise UsageError(f"cannot read the log {log}: {exc.strerror}; check --log") from exc
    text = redact(data.decode("utf-8", errors="replace"),
                  secret_values(settings.secret_env_names()))
    if len(text) > EXCERPT_MAX:
        # Cut after redaction, at a line start, so no half-token survives the cut.
        text = text[-EXCERPT_MAX:]
        text = text.split("\n", 1)[1] if "\n" in text else ""
    return text


def _bring_state(project: Project, remote: str, result: CiReport) -> None:
    """Fetch and merge the remote's state (adopting it in a fresh CI checkout)."""
    if remote not in project.store.remote_names():
        return
    try:
        service.sync(project, remote, push=False)
    except NotInitialized:
        return  # the remote has no dflow state either: a notice, not an error
    except transport.RemoteUnreachable as exc:
        if not project.store.is_initialized:
            raise
        result.warnings.append(f"{exc}; reporting on the local state")


def _remote(project: Project) -> str:
    if project.store.is_initialized:
        return service.remote_name(project)
    return "origin"


def _current_branch(project: Project) -> str:
    done = runner.run(project.store.workdir or project.store.git_dir,
                      "symbolic-ref", "-q", "--short", "HEAD", check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def _extras(result: CiReport) -> str:
    parts = []
    if result.fix_requested:
        parts.append("requested a fix-CI job")
    if result.qa_requested:
        parts.append(f"requested QA of {result.qa_requested} step(s)")
    return f" ({'; '.join(parts)})" if parts else ""
