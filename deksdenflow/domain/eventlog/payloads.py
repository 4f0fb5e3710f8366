"""Event payloads: one pydantic model per event type, the `data` of an `Event`.

The code that emits builds one of these (`tx.emit(RunNote(text=...), run=uid)`), the fold and
every reader get it back typed. A payload's `TYPE` says which event it is; `PAYLOADS` maps each
`EventType` to its model. How to add an event type: docs/architecture.md.

Defaults are what a missing key meant when payloads were plain dicts (event schema 1), so a
stored event of that time reads the same; `store/encoding/codec.py` migrates what changed since.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny

from ..runs.models import JobKind, ReviewComment, StepStatus, StepType, Usage
from .alerts import BudgetAlert
from .event_types import EventType

IntentMode = Literal["all", "step", "manual"]


class Payload(BaseModel):
    """What every payload shares: frozen, and no key it does not declare."""

    # Built on first use: a command that never validates an event (`dflow status` after the
    # ref moved) does not pay for building ~30 payload schemas (docs/decisions/1302).
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    TYPE: ClassVar[EventType]


class Spend(Payload):
    """Tokens and cost of agent work the event records (charged to the run's budget)."""

    usage: Usage = Field(default_factory=Usage)
    cost: float | None = None


class Figures(Spend):
    """What every agent call records: engine, model, prompt hash, tokens, cost, time."""

    engine: str | None = None
    model: str | None = None
    prompt_hash: str | None = None
    variant: str | None = Field(default=None, description="the run's prompt/model variant")
    duration_s: float = 0.0
    sandboxed: bool | None = Field(
        default=None, description="whether the agent's commands ran in its engine's OS sandbox, "
        "as the engine reported it; None: the engine cannot say")

    def fields(self) -> dict[str, Any]:
        """These figures as keyword arguments for a payload that records them."""
        return {name: getattr(self, name) for name in Figures.model_fields}


# --- runs -------------------------------------------------------------------------------


class RunCreated(Payload):
    TYPE = EventType.RUN_CREATED
    number: int = Field(default=0, description="0: none claimed (renumbered on sync)")
    name: str = Field(default="", description="empty: the run is named by its uid")
    task: str = ""
    branch: str = ""
    base: str = ""
    worktree: str = ""
    engine: str | None = None
    variant: str = Field(default="", description="prompt/model variant; empty: none")
    issue_number: int | None = Field(default=None, description="the forge issue the run "
                                     "was made from (`dflow new --from-event`); None: none")
    issue_url: str = Field(default="", description="that issue's web address")


class RunRenumbered(Payload):
    TYPE = EventType.RUN_RENUMBERED
    number: int


class RunPlanStarted(Payload):
    TYPE = EventType.RUN_PLAN_STARTED


class PlannedStep(Payload):
    index: int
    type: StepType = StepType.WORK
    title: str = ""
    file: str = ""
    depends_on: list[int] | None = Field(
        default=None, description="steps this one needs; none (from before dependencies): "
        "the step before (domain/runs/graph.py)")


class RunPlanned(Figures):
    TYPE = EventType.RUN_PLANNED
    steps: list[PlannedStep] = Field(default_factory=list)
    commit: str | None = Field(default=None, description="the commit that wrote the contract")
    summary: str = ""
    parallel: bool = Field(default=False, description="plan.parallel: steps in own worktrees")


class RunPlanFailed(Spend):
    TYPE = EventType.RUN_PLAN_FAILED
    reason: str = "planning failed"
    final: bool = True


class JobPayload(Payload):
    """What a job carries for its handler; every key is optional. The built-in handlers'
    keys are typed here; a handler registered from outside (tests, plugins) may carry its
    own keys, kept as they are."""

    model_config = ConfigDict(frozen=True, extra="allow", defer_build=True)

    engine: str | None = Field(default=None, description="this attempt's engine (step retry)")
    model: str | None = Field(default=None, description="this attempt's model (step retry)")
    attempt: int | None = Field(default=None, description="fix-CI: which attempt this is")
    excerpt: str | None = Field(default=None, description="fix-CI: the failing log's tail")
    url: str | None = Field(default=None, description="fix-CI: the CI run")
    commit: str | None = Field(default=None, description="fix-CI: the commit CI ran on")
    lane: str | None = Field(default=None, description="parallel runs: the step worktree "
                             "the job works in (`step-NN`); none: the run's")
    chain: bool | None = Field(default=None, description="before intents (decision 0100)")
    then: str | None = Field(default=None, description="before intents (decision 0100)")

    def as_dict(self) -> dict[str, object]:
        """The keys that are set, as `Job.payload` keeps them."""
        return self.model_dump(mode="json", exclude_none=True)


class WaitingJob(Payload):
    """A requested job that a pause cancelled and a resume requests again."""

    kind: JobKind
    step: int | None = None
    payload: JobPayload = Field(default_factory=JobPayload)


class RunPaused(Payload):
    TYPE = EventType.RUN_PAUSED
    interrupted: list[WaitingJob] = Field(default_factory=list)


class RunResumed(Payload):
    TYPE = EventType.RUN_RESUMED


class RunCancelled(Payload):
    TYPE = EventType.RUN_CANCELLED
    reason: str = ""


class RunFailed(Payload):
    TYPE = EventType.RUN_FAILED
    reason: str = ""


class RunBlocked(Payload):
    TYPE = EventType.RUN_BLOCKED
    key: str = Field(default="blocked", description="what blocks: budget, ci, plan, …")
    reason: str = ""


class RunUnblocked(Payload):
    TYPE = EventType.RUN_UNBLOCKED
    key: str = "blocked"


class RunMerged(Payload):
    TYPE = EventType.RUN_MERGED
    branch: str = ""
    base: str = ""


class RunPrOpened(Payload):
    TYPE = EventType.RUN_PR_OPENED
    url: str = ""
    tool: str = Field(default="", description="gh or glab")


class RunCiReported(Payload):
    TYPE = EventType.RUN_CI_REPORTED
    status: str = Field(default="", description="success, failure, or what CI said")
    url: str = ""
    branch: str = ""
    commit: str = ""
    excerpt: str = ""


class RunReviewReported(Payload):
    """A review (or one review comment, or a GitLab MR note) on the run's PR/MR."""

    TYPE = EventType.RUN_REVIEW_REPORTED
    forge: str = Field(default="", description="github or gitlab")
    reviewer: str = ""
    state: str = Field(default="commented", description="changes_requested, approved, "
                       "commented")
    comments: list[ReviewComment] = Field(default_factory=list)


class RunReviewAddressed(Payload):
    """A fix job handed the pending comments to the agent and committed (or not)."""

    TYPE = EventType.RUN_REVIEW_ADDRESSED
    round: int = 1
    addressed: int = Field(default=0, description="how many comments it was given")
    commit: str | None = None
    gave_up: bool = Field(default=False, description="the fix job failed for good: the round "
                          "is used, the comments and the block stay")


class RunNote(Figures):
    """Something a person should read; may carry the figures of work outside any step."""

    TYPE = EventType.RUN_NOTE
    text: str = ""
    level: Literal["info", "warning"] = "info"
    summary: str = ""
    commit: str | None = None


class RunIntent(Payload):
    TYPE = EventType.RUN_INTENT
    mode: IntentMode
    steps: int = Field(default=1, description="step mode: how many steps may start")


class RunBudgetAlert(BudgetAlert, Payload):
    """A run's or the month's spend reached a fraction of its limit (decision 1224)."""

    TYPE = EventType.RUN_BUDGET_ALERT

    def alert(self) -> BudgetAlert:
        """The alert as the run snapshot keeps it."""
        return BudgetAlert.model_validate(self.model_dump())


class RunEngineChosen(Payload):
    TYPE = EventType.RUN_ENGINE_CHOSEN
    engine: str
    model: str | None = None


# --- steps ------------------------------------------------------------------------------


class StepStarted(Payload):
    TYPE = EventType.STEP_STARTED
    engine: str | None = None
    model: str | None = None
    job: str | None = None
    variant: str | None = Field(default=None, description="the run's prompt/model variant")


class StepFinished(Figures):
    TYPE = EventType.STEP_FINISHED
    next: StepStatus = StepStatus.NEEDS_QA
    summary: str = ""
    commit: str | None = None


class StepFailed(Spend):
    TYPE = EventType.STEP_FAILED
    reason: str = ""
    final: bool = False
    duration_s: float = 0.0


class StepQaVerdict(Figures):
    TYPE = EventType.STEP_QA_VERDICT
    verdict: Literal["PASS", "FAIL"]
    summary: str = ""
    findings: list[str] = Field(default_factory=list)


class StepApproved(Payload):
    TYPE = EventType.STEP_APPROVED


class StepRetried(Payload):
    TYPE = EventType.STEP_RETRIED
    reason: str = ""
    engine: str | None = None
    model: str | None = None


class StepBlocked(Payload):
    TYPE = EventType.STEP_BLOCKED
    reason: str = ""


class StepIntegrated(Payload):
    """A parallel step's branch merged into the run branch (docs/decisions/1402)."""

    TYPE = EventType.STEP_INTEGRATED
    commit: str = Field(description="the merge commit on the run branch")
    branch: str = Field(default="", description="the step branch that was merged")


class StepConflicted(Payload):
    """Merging a parallel step conflicted; its next attempt resolves (docs/decisions/1403)."""

    TYPE = EventType.STEP_CONFLICTED
    files: list[str] = Field(default_factory=list, description="files left in conflict")
    against: list[int] = Field(default_factory=list,
                               description="merged steps on the other side of the conflict")


# --- jobs -------------------------------------------------------------------------------


class JobRequested(Payload):
    TYPE = EventType.JOB_REQUESTED
    kind: JobKind
    payload: JobPayload = Field(default_factory=JobPayload)
    not_before: datetime | None = None


class JobEvent(Payload):
    """What every later job event names: the job (its job.requested id) and who acted."""

    job: str
    worker: str | None = Field(default=None, description="absent: the event's actor")


class JobClaimed(JobEvent):
    TYPE = EventType.JOB_CLAIMED
    lease_until: datetime | None = None


class JobFinished(JobEvent):
    TYPE = EventType.JOB_FINISHED


class JobFailed(JobEvent):
    TYPE = EventType.JOB_FAILED
    error: str = ""
    final: bool = False
    retry_at: datetime | None = None
    lost: bool = Field(default=False, description="infrastructure, not the agent")


class JobReleased(JobEvent):
    TYPE = EventType.JOB_RELEASED


class JobCancelled(JobEvent):
    TYPE = EventType.JOB_CANCELLED


# --- projects ---------------------------------------------------------------------------


class ProjectSetup(Payload):
    """One step of `dflow projects add` changed state (no run, no job)."""

    TYPE = EventType.PROJECT_SETUP
    project: str
    step: Literal["clone", "init", "ci"]
    status: Literal["started", "done", "skipped", "failed"]
    detail: str = ""
    seconds: float = 0.0


AnyPayload = (
    RunCreated | RunRenumbered | RunPlanStarted | RunPlanned | RunPlanFailed | RunPaused
    | RunResumed | RunCancelled | RunFailed | RunBlocked | RunUnblocked | RunMerged
    | RunPrOpened | RunCiReported | RunNote | RunIntent | RunEngineChosen | RunBudgetAlert
    | RunReviewReported | RunReviewAddressed
    | StepStarted | StepFinished | StepFailed | StepQaVerdict | StepApproved | StepRetried
    | StepBlocked | StepIntegrated | StepConflicted
    | JobRequested | JobClaimed | JobFinished | JobFailed | JobReleased | JobCancelled
    | ProjectSetup
)

PAYLOADS: dict[EventType, type[Payload]] = {
    cls.TYPE: cls for cls in AnyPayload.__args__
}


# What `Event.data` is. Type checkers see the union of the payloads. At run time the field
# holds the model of the event's type, which `Event`'s own validator builds from the data
# (domain/eventlog/events.py); the field's schema only checks that it is a payload and serializes it
# as its own model. A union of every payload would build all ~35 payload schemas with the
# first event; this way a command builds only the payloads it meets
# (docs/decisions/1317-one-payload-schema-at-a-time.md).
if TYPE_CHECKING:
    EventData = AnyPayload
else:
    EventData = SerializeAsAny[Payload]


def payload_of(type: EventType, data: dict[str, Any] | None = None) -> Payload:
    """The payload of an event of `type` from plain data (validated, so bad data raises)."""
    return PAYLOADS[type].model_validate(data or {})
