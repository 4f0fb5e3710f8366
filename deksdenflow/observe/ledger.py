"""Usage facts read off the run snapshots at the tip: what metrics and the report count.

Reads never replay history: every figure here comes from the per-run snapshots (one blob per
run), so a clone or a CI job with only the state ref gets the same numbers. Labels are bounded
by design: project, engine, model, variant, step type, kind and status; never a run id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..domain.models import RunSnapshot, StepRun

OTHER = "plan+qa"  # what a run spent outside its steps' own attempts (planning, QA, fix-CI)


@dataclass(frozen=True)
class SpendFact:
    """Tokens, cost and time one step (or a run's work outside its steps) used."""

    run: str
    at: datetime | None
    step_type: str
    engine: str
    model: str
    variant: str
    attempts: int
    input_tokens: int
    output_tokens: int
    cost: float
    duration_s: float
    status: str
    failures: int = 0
    qa_passes: int = 0
    qa_fails: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class JobFact:
    kind: str
    status: str
    engine: str
    model: str
    attempts: int
    failures: int


@dataclass(frozen=True)
class RunFact:
    id: str
    status: str
    engine: str
    variant: str
    created_at: datetime | None
    updated_at: datetime | None
    terminal: bool
    tokens: int
    cost: float

    @property
    def duration_s(self) -> float | None:
        if self.created_at is None or self.updated_at is None:
            return None
        return max(0.0, (self.updated_at - self.created_at).total_seconds())


@dataclass
class Ledger:
    project: str
    runs: list[RunFact] = field(default_factory=list)
    spends: list[SpendFact] = field(default_factory=list)
    jobs: list[JobFact] = field(default_factory=list)


def ledger(project: str, snaps: list[RunSnapshot]) -> Ledger:
    """Every fact of every run (one pass over the snapshots)."""
    out = Ledger(project=project)
    for snap in snaps:
        _add_run(out, snap)
    return out


def _variant(snap: RunSnapshot, step: StepRun | None = None) -> str:
    chosen = getattr(step, "variant", None) if step is not None else None
    return str(chosen or getattr(snap.run, "variant", "") or "")


def _add_run(out: Ledger, snap: RunSnapshot) -> None:
    run = snap.run
    engine = run.engine or ""
    out.runs.append(RunFact(
        id=run.id, status=run.status.value, engine=engine, variant=_variant(snap),
        created_at=run.created_at, updated_at=run.updated_at,
        terminal=run.status.value in ("completed", "failed", "cancelled"),
        tokens=run.usage.total, cost=run.cost,
    ))
    in_steps, out_steps, cost_steps = 0, 0, 0.0
    for step in snap.steps:
        if step.attempts == 0 and step.usage.total == 0:
            continue
        in_steps += step.usage.input_tokens
        out_steps += step.usage.output_tokens
        cost_steps += step.cost or 0.0
        out.spends.append(SpendFact(
            run=run.id, at=step.updated_at, step_type=step.type.value,
            engine=step.engine or engine, model=step.model or "", variant=_variant(snap, step),
            attempts=step.attempts, input_tokens=step.usage.input_tokens,
            output_tokens=step.usage.output_tokens, cost=step.cost or 0.0,
            duration_s=step.duration_s, status=step.status.value,
            failures=step.failures, qa_passes=step.qa_passes, qa_fails=step.qa_fails,
        ))
    rest_in, rest_out = run.usage.input_tokens - in_steps, run.usage.output_tokens - out_steps
    rest_cost = run.cost - cost_steps
    if rest_in or rest_out or abs(rest_cost) > 1e-12:
        out.spends.append(SpendFact(
            run=run.id, at=run.updated_at, step_type=OTHER, engine=engine, model="",
            variant=_variant(snap), attempts=0, input_tokens=rest_in, output_tokens=rest_out,
            cost=rest_cost, duration_s=0.0, status=run.status.value,
        ))
    models = {s.index: (s.engine or engine, s.model or "") for s in snap.steps}
    for job in snap.jobs:
        eng, model = models.get(job.step, (engine, "")) if job.step is not None else (engine, "")
        out.jobs.append(JobFact(kind=job.kind.value, status=job.status.value, engine=eng,
                                model=model, attempts=job.attempts, failures=job.failures))


def project_label(name: str, root_name: str) -> str:
    """The `project` label: project.name from project.toml, else the repository's folder."""
    return name or root_name
