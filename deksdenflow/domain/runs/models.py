"""Snapshots of protocol runs, step runs and jobs: what the fold derives from events."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from ..eventlog.alerts import BudgetAlert
from ..plain import OPEN_JOB_STATUSES
from ..plain import SNAPSHOT_SCHEMA_VERSION as SNAPSHOT_SCHEMA_VERSION
from ..plain import JobStatus as JobStatus

# Per-entity history stays bounded: snapshots keep this many closed jobs / rejected events.
CLOSED_JOBS_KEPT = 20
REJECTED_KEPT = 50


class RunStatus(StrEnum):
    PENDING = "pending"
    PLANNING = "planning"
    PLANNED = "planned"
    RUNNING = "running"
    COMPLETED = "completed"
    BLOCKED = "blocked"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_RUN_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED})


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    NEEDS_QA = "needs_qa"
    COMPLETED = "completed"
    FAILED = "failed"
    BLOCKED = "blocked"


class StepType(StrEnum):
    SETUP = "setup"
    WORK = "work"
    QA = "qa"
    FINALIZE = "finalize"


class JobKind(StrEnum):
    PLAN = "plan"
    EXECUTE = "execute"
    QA = "qa"
    OPEN_PR = "open_pr"
    FIX_CI = "fix_ci"
    REPORT_CI = "report_ci"
    NOOP = "noop"
    INTEGRATE = "integrate"
    FIX_REVIEW = "fix_review"




class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
        )


class Spend(BaseModel):
    """Tokens and cost, as the limits count them (tokens = input + output)."""

    tokens: int = 0
    cost: float = 0.0


def month_of(at: datetime) -> str:
    """The calendar month (UTC) a moment falls in, as the month limit keys it."""
    return (at.astimezone(UTC) if at.tzinfo else at).strftime("%Y-%m")


class AttemptSpend(Spend):
    """What the newest attempt of a run (plan, step, review, fix-CI) spent."""

    what: str = ""
    event: str = ""


class QaResult(BaseModel):
    verdict: str
    summary: str = ""
    findings: list[str] = Field(default_factory=list)


class Review(BaseModel):
    """One QA verdict, and the executor (engine/model) of the attempt it judged: a verdict is
    credited to that attempt, not to whoever ran the step last."""

    verdict: str
    engine: str | None = None
    model: str | None = None


class QaSpend(BaseModel):
    """What reviewing a step cost, and the QA engine/model that did it (the newest)."""

    engine: str | None = None
    model: str | None = None
    usage: Usage = Field(default_factory=Usage)
    cost: float | None = None


class StepRun(BaseModel):
    """One numbered step of a protocol run."""

    index: int
    type: StepType = StepType.WORK
    title: str = ""
    file: str = ""
    depends_on: list[int] = Field(
        default_factory=list, description="steps that must be finished (and, in a parallel "
        "run, merged into the run branch) before this one starts")
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    failures: int = Field(default=0, description="attempts that ended in step.failed")
    qa_passes: int = 0
    qa_fails: int = 0
    final_failure: bool = False
    engine: str | None = None
    model: str | None = None
    prompt_hash: str | None = None
    variant: str = ""
    usage: Usage = Field(default_factory=Usage)
    cost: float | None = None
    duration_s: float = 0.0
    summary: str = ""
    commit: str | None = None
    integrated: str | None = Field(
        default=None, description="parallel runs: the merge commit that brought the step's "
        "branch into the run branch")
    conflict: list[str] = Field(
        default_factory=list, description="files whose merge into the run branch conflicted; "
        "the step's next attempt resolves them")
    conflict_with: list[int] = Field(
        default_factory=list, description="steps on the other side of that conflict")
    reason: str = ""
    qa: QaResult | None = None
    reviews: list[Review] = Field(default_factory=list, description="every QA verdict, with "
                                  "the executor of the attempt it judged")
    qa_spend: QaSpend = Field(default_factory=QaSpend, description="tokens and cost of its "
                              "reviews (not in usage/cost, which are the executions')")
    updated_at: datetime | None = None


class Job(BaseModel):
    """A unit of work for a worker; its id is the id of its job.requested event."""

    id: str
    kind: JobKind
    run: str | None = None
    step: int | None = None
    status: JobStatus = JobStatus.REQUESTED
    attempts: int = 0
    failures: int = 0
    lost: int = Field(default=0, description="attempts lost to a dead worker or expired lease")
    not_before: datetime | None = None
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    lease_until: datetime | None = None
    error: str = ""
    payload: dict[str, Any] = Field(default_factory=dict)
    requested_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_JOB_STATUSES


class CiResult(BaseModel):
    status: str
    url: str = ""
    branch: str = ""
    commit: str = ""
    excerpt: str = ""
    at: datetime | None = None


class ReviewComment(BaseModel):
    """One reviewer comment waiting for a fix (`dflow review report`): the review's own text
    has no file; an inline comment has its file and line."""

    reviewer: str = ""
    state: str = Field(default="commented", description="changes_requested, approved, "
                       "commented")
    body: str = ""
    file: str = ""
    line: int | None = None
    url: str = ""


class ProtocolRun(BaseModel):
    """One task: its identity, where it lives, and its derived status."""

    uid: str = Field(description="id of the run.created event; stable across renumbering")
    number: int
    name: str
    task: str = ""
    branch: str = ""
    base: str = ""
    worktree: str = Field(default="", description="where the creating machine put its "
                          "worktree: a hint for that machine only, never a path dflow uses "
                          "(each clone places its own: workflow/checkouts/placement.py)")
    engine: str | None = None
    model: str | None = Field(default=None, description="model chosen with `--model`")
    status: RunStatus = RunStatus.PENDING
    plan_started: bool = False
    planned: bool = False
    paused: bool = False
    parallel: bool = Field(default=False, description="planned with plan.parallel: steps "
                           "run in their own worktrees and are merged by the integrator")
    cancelled: bool = False
    failed: bool = False
    merged: bool = False
    blocks: dict[str, str] = Field(default_factory=dict)
    intent: str = Field(default="", description="all | step | manual; empty: from before intents")
    step_credit: int = Field(default=0, description="steps one `dflow run` may still start")
    pr_url: str | None = None
    ci: CiResult | None = None
    plan_prompt_hash: str | None = None
    plan_commit: str | None = Field(
        default=None, description="the commit that wrote the contract: steps and QA read it")
    tip: str | None = Field(
        default=None, description="the newest commit the state records on the run branch "
        "(plan, step, integration, fix-CI): what any clone continues from and lands")
    tip_by: str = Field(default="", description="the actor (worker@host) that recorded `tip`")
    usage: Usage = Field(default_factory=Usage)
    cost: float = 0.0
    variant: str = Field(default="", description="the prompt/model variant; empty: default")
    issue_number: int | None = Field(default=None, description="the issue it was made from")
    issue_url: str = Field(default="", description="that issue's web address")
    review_comments: list[ReviewComment] = Field(
        default_factory=list, description="reviewer comments not yet handed to a fix")
    review_rounds: int = Field(default=0, description="review fixes made so far")
    last_attempt: AttemptSpend | None = None
    month_spend: dict[str, Spend] = Field(
        default_factory=dict, description="'YYYY-MM' (UTC, of the event) -> what was spent")
    alerts: list[BudgetAlert] = Field(default_factory=list, description="budget alerts fired")
    created_at: datetime | None = None
    created_by: str = ""
    updated_at: datetime | None = None

    @property
    def id(self) -> str:
        return f"{self.number:04d}-{self.name}"


class Rejected(BaseModel):
    """An event that no longer applied when folded; kept, never dropped silently."""

    event: str
    type: str
    step: int | None = None
    reason: str


class RunSnapshot(BaseModel):
    """The derived state of one run: what reads use instead of replaying its events."""

    schema_version: int = SNAPSHOT_SCHEMA_VERSION
    run: ProtocolRun
    steps: list[StepRun] = Field(default_factory=list)
    jobs: list[Job] = Field(default_factory=list)
    rejected: list[Rejected] = Field(default_factory=list)
    rejected_count: int = 0
    event_count: int = 0
    last_event: str = ""
    last_lamport: int = 0

    def step(self, index: int) -> StepRun | None:
        for s in self.steps:
            if s.index == index:
                return s
        return None

    def job(self, job_id: str) -> Job | None:
        for j in self.jobs:
            if j.id == job_id:
                return j
        return None

    @property
    def steps_done(self) -> int:
        return sum(1 for s in self.steps if s.status == StepStatus.COMPLETED)

    @property
    def open_jobs(self) -> list[Job]:
        return [j for j in self.jobs if j.is_open]
