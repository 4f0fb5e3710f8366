"""Events: the immutable facts that every status in dflow is derived from."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EVENT_SCHEMA_VERSION = 1


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

    STEP_STARTED = "step.started"
    STEP_FINISHED = "step.finished"
    STEP_FAILED = "step.failed"
    STEP_QA_VERDICT = "step.qa_verdict"
    STEP_APPROVED = "step.approved"
    STEP_RETRIED = "step.retried"
    STEP_BLOCKED = "step.blocked"

    JOB_REQUESTED = "job.requested"
    JOB_CLAIMED = "job.claimed"
    JOB_FINISHED = "job.finished"
    JOB_FAILED = "job.failed"
    JOB_RELEASED = "job.released"
    JOB_CANCELLED = "job.cancelled"

    PROJECT_SETUP = "project.setup"  # one setup step of `dflow projects add` (no run, no job)


class Event(BaseModel):
    """One fact. Ordered by (lamport, id) everywhere."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = EVENT_SCHEMA_VERSION
    id: str = Field(description="ULID: sortable and unique across machines")
    lamport: int = Field(ge=0, description="Lamport clock: max seen on this ref + 1")
    actor: str = Field(description="who: user@host, worker:<id>@host, or ci:<provider>:<job>")
    at: datetime = Field(description="wall time, UTC; informative only, never used for order")
    run: str | None = Field(default=None, description="uid of the protocol run, if any")
    step: int | None = Field(default=None, description="step index within the run, if any")
    type: EventType
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def order_key(self) -> tuple[int, str]:
        return (self.lamport, self.id)


def ordered(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.lamport, e.id))
