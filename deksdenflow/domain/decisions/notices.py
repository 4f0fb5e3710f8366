"""Notices: what a run's snapshot tells a person (`[notify]`, docs/notify.md).

Pure: given a run's snapshot and the effective settings, the notices its current state
carries, each with a key that names the state it tells of. A clone sends a notice once per
key (its record of keys sent lives in the git dir, workflow/spend/notify.py), so the same state
reached here or merged from another clone is told once, and a new state is told again
(docs/decisions/1590-notices-once-per-state.md).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from ..config.settings import ProjectSettings
from ..eventlog.alerts import newest
from ..runs.models import RunSnapshot, RunStatus, StepStatus
from .reconcile import waiting


class Notice(BaseModel):
    """One notice, as `notify.command` reads it on stdin and `notify.webhook_url` receives it."""

    project: str
    run: str = Field(description="the run's id, NNNN-name")
    step: int | None = Field(default=None, description="the step it is about, if one")
    event: str = Field(description="ready | waiting | failed | budget_alert | merged | cancelled")
    stage: str = Field(description="the run's stage, as `dflow status` shows it")
    reason: str = Field(default="", description="why it waits, failed or alerts")
    command: str = Field(default="", description="the command that moves it on")
    text: str = Field(default="", description="one line for a chat message or a desktop popup")


def notices(snap: RunSnapshot, stage: str, settings: ProjectSettings,
            project: str) -> list[tuple[str, Notice]]:
    """(key, notice) for every notice the run's current state carries, told or not; `stage`
    is the run's stage as the listing computes it (workflow/runs.stage)."""
    run = snap.run
    out: list[tuple[str, Notice]] = []

    def add(key: str, event: str, reason: str = "", command: str = "",
            step: int | None = None) -> None:
        notice = Notice(project=project, run=run.id, step=step, event=event, stage=stage,
                        reason=reason, command=command)
        notice.text = _text(notice)
        out.append((key, notice))

    if stage == "ready to land":
        add("ready", "ready", "every step passed", f"dflow land {run.id}")
    elif stage == "merged":
        add("merged", "merged", "its branch is on the base")
    elif run.status == RunStatus.FAILED:
        add("failed", "failed", _why_failed(snap), f"dflow show {run.id}", _step(snap))
    elif run.status == RunStatus.CANCELLED:
        add("cancelled", "cancelled")
    else:
        wait = waiting(snap, settings)
        if wait is not None and not _chosen(snap, wait.reason):
            add(f"waiting:{wait.reason}", "waiting", wait.reason, wait.command, _step(snap))
    for alert in newest(run.alerts):
        add(f"alert:{alert.prefix}:{alert.threshold:g}", "budget_alert", alert.text,
            f"dflow show {run.id}")
    return out


def _chosen(snap: RunSnapshot, reason: str) -> bool:
    """A wait the person driving the run chose (paused, hands-off): nobody needs telling."""
    return snap.run.paused or reason.endswith("(hands-off)")


def _step(snap: RunSnapshot) -> int | None:
    for step in snap.steps:
        if step.status != StepStatus.COMPLETED:
            return step.index
    return None


def _why_failed(snap: RunSnapshot) -> str:
    if snap.run.blocks:
        key, why = sorted(snap.run.blocks.items())[0]
        return f"{key}: {why}"
    return "the run failed"


def _text(notice: Notice) -> str:
    head = f"{notice.project} {notice.run}"
    if notice.step is not None:
        head += f" step {notice.step:02d}"
    body = {"ready": "is ready to land", "merged": "was merged", "failed": "failed",
            "cancelled": "was cancelled", "waiting": "waits for a person",
            "budget_alert": "hit a budget alert"}.get(notice.event, notice.event)
    text = f"{head} {body}"
    if notice.reason and notice.event not in ("ready", "merged"):
        text += f": {notice.reason}"
    return f"{text} — {notice.command}" if notice.command else text
