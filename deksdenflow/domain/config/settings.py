"""Project settings: the model behind `project.toml` (and the user config file)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

SETTINGS_SCHEMA_VERSION = 1


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ProjectSection(_Section):
    name: str = ""
    base_branch: str = "main"
    worktree_root: str = Field(
        default="", description="where run worktrees go; empty: '<repo>.worktrees' beside the repo"
    )
    remote: str = "origin"
    sync: Literal["auto", "manual"] = "auto"


class PhasesSection(_Section):
    """Which engine plans, executes and reviews (names from [engines])."""

    default: str = "codex"
    plan: str = ""
    execute: str = ""
    qa: str = ""

    def engine_for(self, phase: str) -> str:
        chosen = getattr(self, phase, "")
        return str(chosen or self.default)


class EngineConfig(_Section):
    kind: str
    model: str = ""
    timeout: float = Field(default=1800.0, gt=0)
    options: dict[str, Any] = Field(default_factory=dict)
    env: list[str] = Field(
        default_factory=list,
        description="names of environment variables (or PREFIX* patterns) the agent gets "
        "besides the basics and the engine's own; nothing else of dflow's environment reaches it",
    )


def _default_engines() -> dict[str, EngineConfig]:
    return {
        name: EngineConfig(kind=name) for name in ("codex", "claude", "openai", "command", "demo")
    }


class QaSection(_Section):
    policy: Literal["each_step", "end", "never"] = "each_step"
    auto_retry: int = Field(
        default=0, ge=0, description="re-run a step this many times after QA FAIL, with findings"
    )


class StepRetry(_Section):
    """The retry policy of one step type; an unset figure is [retry]'s."""

    max_attempts: int | None = Field(default=None, ge=1)
    backoff_base_s: float | None = Field(default=None, ge=0)
    backoff_max_s: float | None = Field(default=None, ge=0)
    findings: bool = Field(default=True, description="feed the last QA findings (fix-CI: the "
                           "CI log excerpt) into the next attempt")


RETRY_TYPES = ("setup", "work", "qa", "finalize", "fix_ci")


class RetrySection(_Section):
    max_attempts: int = Field(default=3, ge=1)
    max_lost: int = Field(
        default=10, ge=1, description="attempts a job may lose to dead workers or expired leases"
    )
    backoff_base_s: float = Field(default=2.0, ge=0)
    backoff_max_s: float = Field(default=300.0, ge=0)
    setup: StepRetry = Field(default_factory=StepRetry)
    work: StepRetry = Field(default_factory=StepRetry)
    qa: StepRetry = Field(default_factory=StepRetry)
    finalize: StepRetry = Field(default_factory=StepRetry)
    fix_ci: StepRetry = Field(default_factory=StepRetry)

    def for_type(self, kind: str | None) -> RetrySection:
        """The policy of a step type (or fix_ci): its own figures over [retry]'s."""
        own = getattr(self, kind, None) if kind in RETRY_TYPES else None
        if not isinstance(own, StepRetry):
            return self
        update = {k: v for k, v in own.model_dump(exclude={"findings"}).items()
                  if v is not None}
        return self.model_copy(update=update) if update else self

    def feeds_findings(self, kind: str | None) -> bool:
        own = getattr(self, kind, None) if kind in RETRY_TYPES else None
        return own.findings if isinstance(own, StepRetry) else True


class Limits(_Section):
    """A token and a cost limit; 0 means none."""

    max_tokens: int = Field(default=0, ge=0, description="tokens (input + output); 0 means none")
    max_cost: float = Field(default=0.0, ge=0, description="cost as the engines report it "
                            "(USD); 0 means none")


class BudgetSection(_Section):
    tokens: int = Field(default=0, ge=0, description="per-run token budget (the short "
                        "spelling of budget.run.max_tokens); 0 means none")
    cost: float = Field(default=0.0, ge=0, description="per-run cost budget (the short "
                        "spelling of budget.run.max_cost, USD); 0 means none")
    mode: Literal["strict", "warn", "off"] = "off"
    attempt: Limits = Field(default_factory=Limits, description="limits of one attempt "
                            "(a plan, a step attempt, a review, a fix-CI attempt)")
    run: Limits = Field(default_factory=Limits, description="limits of one run, all attempts")
    month: Limits = Field(default_factory=Limits, description="limits of the whole project "
                          "per calendar month (UTC), summed over every run")

    @model_validator(mode="after")
    def _one_run_limit(self) -> BudgetSection:
        for short, long in (("tokens", "max_tokens"), ("cost", "max_cost")):
            a, b = getattr(self, short), getattr(self.run, long)
            if a and b and a != b:
                raise ValueError(f"budget.{short} ({a}) and budget.run.{long} ({b}) both set "
                                 f"the per-run limit; keep one of them")
        return self

    def run_limits(self) -> Limits:
        """The per-run limits, whichever spelling set them."""
        return Limits(max_tokens=self.run.max_tokens or self.tokens,
                      max_cost=self.run.max_cost or self.cost)


class AlertsSection(_Section):
    """Alerts when a run's or the month's spend reaches fractions of its limit (decision 1224)."""

    at: list[float] = Field(default_factory=list, description="fractions of each budget, "
                            "e.g. [0.5, 0.8, 1.0]; empty: no alerts")
    command: str = Field(default="", description="shell command run with each alert as JSON "
                         "on stdin, in a clean environment")
    timeout_s: float = Field(default=10.0, gt=0, le=600, description="the command is killed "
                             "after this long")

    @model_validator(mode="after")
    def _fractions(self) -> AlertsSection:
        bad = [v for v in self.at if not 0 < v <= 10]
        if bad:
            raise ValueError(f"alerts.at takes fractions of a budget above 0 (such as "
                             f"[0.5, 0.8, 1.0]), not {bad[0]:g}")
        return self


NOTICE_EVENTS = ("ready", "waiting", "failed", "budget_alert", "merged", "cancelled")
DEFAULT_NOTICES = ["ready", "waiting", "failed", "budget_alert"]


class NotifySection(_Section):
    """Tell a person when a run needs them (docs/notify.md, decision 1590)."""

    command: str = Field(default="", description="shell command run with each notice as JSON "
                         "on stdin, detached, in a clean environment")
    webhook_url: str = Field(default="", description="an http(s) URL each notice is POSTed to "
                             "as JSON (Slack/Teams-style incoming webhooks take `text`)")
    on: list[str] = Field(default_factory=lambda: list(DEFAULT_NOTICES),
                          description="which changes are told: " + ", ".join(NOTICE_EVENTS))
    timeout_s: float = Field(default=10.0, gt=0, le=600, description="the command or the "
                             "POST is given up after this long")

    @model_validator(mode="after")
    def _events(self) -> NotifySection:
        bad = [e for e in self.on if e not in NOTICE_EVENTS]
        if bad:
            raise ValueError(f"notify.on takes {', '.join(NOTICE_EVENTS)}, not {bad[0]!r}")
        url = self.webhook_url.strip()
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("notify.webhook_url must be an http:// or https:// URL")
        return self


class ReviewSection(_Section):
    """Review comments go back to the agent (`dflow review report`, docs/ci.md)."""

    fix: Literal["off", "auto"] = Field(default="off", description="auto: a changes-requested "
                                        "review requests a fix job with its comments")
    max_rounds: int = Field(default=3, ge=0, le=50, description="review fixes per run; then "
                            "the run waits for a person")


class IntakeSection(_Section):
    """Issues become runs (`dflow new --from-event`, docs/ci.md)."""

    label: str = Field(default="dflow", min_length=1, description="the label that makes an "
                       "issue a run in the CI job `dflow init --ci` writes")


class ModelsSection(_Section):
    """Which models a project may use, and the default model of each phase."""

    allowed: dict[str, list[str]] = Field(
        default_factory=dict,
        description="engine name -> the models it may use; an engine not named may use any")
    plan: str = Field(default="", description="model for planning (with the plan engine)")
    execute: str = Field(default="", description="model for the steps (with the execute engine)")
    qa: str = Field(default="", description="model for reviews (with the QA engine)")
    fix_ci: str = Field(default="", description="model for fix-CI attempts; empty: execute's")

    def for_phase(self, phase: str) -> str:
        """The phase's default model; fix-CI falls back to the steps' model."""
        chosen = str(getattr(self, phase, "") or "")
        return chosen or (self.execute if phase == "fix_ci" else "")

    def refusal(self, engine: str, model: str) -> str | None:
        """Why `model` may not run on `engine`, or None."""
        allowed = self.allowed.get(engine)
        if not allowed or model in allowed:
            return None
        return (f"model '{model or '(the engine default)'}' is not allowed for engine "
                f"'{engine}' by models.allowed in project.toml; allowed: {', '.join(allowed)}")


class Variant(_Section):
    """A named alternative of prompts and model, recorded on every attempt (decision 1223)."""

    prompts: str = Field(default="", description="folder in the repository whose "
                         "*.prompt.md replace the project's and the shipped templates")
    model: str = Field(default="", description="model for every phase of the run")
    share: float = Field(default=0.0, ge=0, le=1, description="share of new runs that get "
                         "this variant when `dflow new` names none")


class LoopSection(_Section):
    mode: Literal["step", "all"] = "all"


class CiSection(_Section):
    provider: Literal["none", "github", "gitlab"] = "none"
    install: str = Field(default="", description="the pip requirement CI installs dflow from")
    fix: Literal["off", "auto"] = "off"
    max_fix_attempts: int = Field(default=2, ge=0)


class SecretsSection(_Section):
    env: list[str] = Field(
        default_factory=list, description="names of environment variables whose values are redacted"
    )
    allow_files: list[str] = Field(
        default_factory=list,
        description="glob patterns of repository paths the commit guard lets through although "
        "their name or content looks secret (test fixtures with fake keys, say)",
    )


class ArtifactsSection(_Section):
    # At most the cap every clone checks a state's artifacts against (store/encoding/incoming.py's
    # MAX_ARTIFACT_BYTES): a larger artifact would make the state it is in refused.
    max_bytes: int = Field(default=262_144, ge=1024, le=16_777_216)


class LimitsSection(_Section):
    max_file_bytes: int = Field(
        default=5_000_000, ge=1,
        description="a file larger than this is never committed on a run branch")
    max_parallel_steps: int = Field(
        default=4, ge=1, description="steps of one run that run at once (plan.parallel)")
    max_agents: int = Field(
        default=0, ge=0,
        description="agent jobs (plan, execute, QA) that run at once on this machine, over "
        "every pool; 0 means only the pools' -j limits them")


class PlanSection(_Section):
    parallel: bool = Field(
        default=False,
        description="plans are dependency graphs: independent steps run at once, each in its "
        "own worktree, and are merged into the run branch by one integrator")


class GitSection(_Section):
    run_hooks: bool = Field(
        default=False,
        description="let dflow's own git commands run the repository's hooks (an agent that "
        "can edit a tracked hooks folder then runs code outside its sandbox)",
    )
    allow_submodules: bool = Field(
        default=False,
        description="let a step commit a gitlink (a submodule that .gitmodules declares); "
        "without it a nested repository or gitlink an agent adds or changes is refused",
    )


class LandSection(_Section):
    keep_protocols: bool = Field(
        default=True,
        description="false: `dflow land` leaves the run's .protocols/NNNN-name/ folder out of "
        "what lands on the base (the run branch and its PR keep it; decision 1579)",
    )


class WorkerSection(_Section):
    grace_s: float = Field(default=30.0, ge=0)
    lease_s: float = Field(default=600.0, gt=0)


class ProjectSettings(_Section):
    schema_version: int = SETTINGS_SCHEMA_VERSION
    project: ProjectSection = Field(default_factory=ProjectSection)
    phases: PhasesSection = Field(default_factory=PhasesSection)
    engines: dict[str, EngineConfig] = Field(default_factory=_default_engines)
    qa: QaSection = Field(default_factory=QaSection)
    retry: RetrySection = Field(default_factory=RetrySection)
    budget: BudgetSection = Field(default_factory=BudgetSection)
    alerts: AlertsSection = Field(default_factory=AlertsSection)
    notify: NotifySection = Field(default_factory=NotifySection)
    intake: IntakeSection = Field(default_factory=IntakeSection)
    review: ReviewSection = Field(default_factory=ReviewSection)
    models: ModelsSection = Field(default_factory=ModelsSection)
    variants: dict[str, Variant] = Field(default_factory=dict)
    loop: LoopSection = Field(default_factory=LoopSection)
    plan: PlanSection = Field(default_factory=PlanSection)
    ci: CiSection = Field(default_factory=CiSection)
    secrets: SecretsSection = Field(default_factory=SecretsSection)
    artifacts: ArtifactsSection = Field(default_factory=ArtifactsSection)
    worker: WorkerSection = Field(default_factory=WorkerSection)
    git: GitSection = Field(default_factory=GitSection)
    land: LandSection = Field(default_factory=LandSection)
    limits: LimitsSection = Field(default_factory=LimitsSection)
    # This machine's fact, never a setting: the keys that changed on the state ref since a
    # person here trusted them (domain/config/settings_trust.py); jobs that use them wait here.
    _untrusted: frozenset[str] = PrivateAttr(default_factory=frozenset)

    def untrusted(self) -> frozenset[str]:
        """The settings keys not trusted on this machine (empty: all are)."""
        return self._untrusted

    def with_untrusted(self, keys: frozenset[str]) -> ProjectSettings:
        """A copy that knows which keys this machine has not trusted."""
        copy = self.model_copy()
        copy._untrusted = frozenset(keys)
        return copy

    @model_validator(mode="after")
    def _variant_shares(self) -> ProjectSettings:
        total = sum(v.share for v in self.variants.values())
        if total > 1 + 1e-9:
            raise ValueError(f"the variants' shares (variants.NAME.share) add up to "
                             f"{total:g}; they may add up to 1 at most (the rest of the runs "
                             f"get no variant)")
        for name in self.variants:
            if name == "default" or not name.replace("-", "").replace("_", "").isalnum():
                raise ValueError(f"variant name '{name}' is not allowed: use letters, digits, "
                                 f"- and _ (and not 'default', which means no variant)")
        return self

    def secret_env_names(self) -> list[str]:
        """Variables whose values are secret: `[secrets] env` and every engine's key variable
        (besides the default names and the `*_TOKEN`-style suffixes, see domain/redaction)."""
        keys = [str(e.options["api_key_env"]) for e in self.engines.values()
                if e.options.get("api_key_env")]
        return [*self.secrets.env, *keys]

    def engine(self, name: str) -> EngineConfig:
        """The named engine's config; a built-in kind needs no table of its own."""
        return self.engines.get(name) or EngineConfig(kind=name)
