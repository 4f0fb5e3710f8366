"""The closed set of event types (apart from events.py, so payloads.py can name them)."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """The closed set of things that can happen. Adding one is a schema change."""

    RUN_CREATED = "run.created"
    RUN_RENUMBERED = "run.renumbered"
    RUN_PLAN_STARTED = "run.plan_started"
    RUN_PLANNED = "run.planned"
    RUN_PLAN_FAILED = "run.plan_failed"
    RUN_PAUSED = "run.paused"
    RUN_RESUMED = "run.resumed"
    RUN_CANCELLED = "run.cancelled"
    RUN_FAILED = "run.failed"
    RUN_BLOCKED = "run.blocked"
    RUN_UNBLOCKED = "run.unblocked"
    RUN_MERGED = "run.merged"
    RUN_PR_OPENED = "run.pr_opened"
    RUN_CI_REPORTED = "run.ci_reported"
    RUN_NOTE = "run.note"
    RUN_INTENT = "run.intent"
    RUN_ENGINE_CHOSEN = "run.engine_chosen"
    RUN_BUDGET_ALERT = "run.budget_alert"
    RUN_REVIEW_REPORTED = "run.review_reported"  # a reviewer's review or comment on its PR/MR
    RUN_REVIEW_ADDRESSED = "run.review_addressed"  # a fix job answered the review's comments

    STEP_STARTED = "step.started"
    STEP_FINISHED = "step.finished"
    STEP_FAILED = "step.failed"
    STEP_QA_VERDICT = "step.qa_verdict"
    STEP_APPROVED = "step.approved"
    STEP_RETRIED = "step.retried"
    STEP_BLOCKED = "step.blocked"
    STEP_INTEGRATED = "step.integrated"  # a parallel step's branch merged into the run branch
    STEP_CONFLICTED = "step.conflicted"  # ... or it conflicted: the step resolves it next

    JOB_REQUESTED = "job.requested"
    JOB_CLAIMED = "job.claimed"
    JOB_FINISHED = "job.finished"
    JOB_FAILED = "job.failed"
    JOB_RELEASED = "job.released"
    JOB_CANCELLED = "job.cancelled"

    PROJECT_SETUP = "project.setup"  # one setup step of `dflow projects add` (no run, no job)
