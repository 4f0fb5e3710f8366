"""Usage facts read off the run snapshots at the tip: what metrics and the report count.

Reads never replay history: every figure here comes from the per-run snapshots (one blob per
run), so a clone or a CI job with only the state ref gets the same numbers. Labels are bounded
by design: project, engine, model, variant, step type, kind and status; never a run id.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

TERMINAL = frozenset({"completed", "failed", "cancelled"})
OTHER = "plan+qa"  # what a run spent outside its steps (planning, fix-CI; QA before qa_spend)
QA = "qa"  # a step's reviews: their tokens and cost, under the QA engine and model


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


def ledger(project: str, docs: list[dict[str, Any]]) -> Ledger:
    """Every fact of every run, in one pass over the snapshots as plain JSON
    (`StateView.snapshot_docs`: building models would cost more than the figures)."""
    out = Ledger(project=project)
    for doc in docs:
        _add_run(out, doc)
    return out


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _usage(doc: dict[str, Any]) -> tuple[int, int]:
    usage = doc.get("usage") or {}
    return int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))


def _add_run(out: Ledger, doc: dict[str, Any]) -> None:
    run = doc["run"]
    engine, variant = run.get("engine") or "", run.get("variant") or ""
    run_id, status = f"{int(run['number']):04d}-{run['name']}", str(run["status"])
    run_in, run_out = _usage(run)
    out.runs.append(RunFact(
        id=run_id, status=status, engine=engine, variant=variant,
        created_at=_when(run.get("created_at")), updated_at=_when(run.get("updated_at")),
        terminal=status in TERMINAL, tokens=run_in + run_out, cost=float(run.get("cost") or 0),
    ))
    spent_in, spent_out, spent_cost = 0, 0, 0.0
    models: dict[int, tuple[str, str]] = {}
    for step in doc.get("steps", ()):
        fact = _step_fact(run_id, engine, variant, step)
        models[int(step["index"])] = (fact.engine, fact.model)
        for extra in (fact, *_review_facts(fact, step, engine)):
            if extra.attempts == 0 and extra.tokens == 0 and not extra.cost and \
                    not (extra.qa_passes or extra.qa_fails):
                continue
            spent_in, spent_out = spent_in + extra.input_tokens, spent_out + extra.output_tokens
            spent_cost += extra.cost
            out.spends.append(extra)
    rest_in, rest_out = run_in - spent_in, run_out - spent_out
    rest_cost = float(run.get("cost") or 0) - spent_cost
    if rest_in or rest_out or abs(rest_cost) > 1e-12:
        out.spends.append(SpendFact(
            run=run_id, at=_when(run.get("updated_at")), step_type=OTHER, engine=engine,
            model="", variant=variant, attempts=0, input_tokens=rest_in, output_tokens=rest_out,
            cost=rest_cost, duration_s=0.0, status=status,
        ))
    for job in doc.get("jobs", ()):
        step = job.get("step")
        eng, model = models.get(step, (engine, "")) if step is not None else (engine, "")
        out.jobs.append(JobFact(kind=str(job["kind"]), status=str(job["status"]), engine=eng,
                                model=model, attempts=int(job.get("attempts", 0)),
                                failures=int(job.get("failures", 0))))


def _review_facts(fact: SpendFact, step: dict[str, Any], engine: str) -> list[SpendFact]:
    """What reviewing the step spent, under the QA engine and model (step type `qa`), and
    each verdict credited to the executor of the attempt it judged (a snapshot from before
    `reviews` were kept credits the step's last executor, in `fact`)."""
    found = []
    spend = step.get("qa_spend") or {}
    qa_in, qa_out = _usage(spend)
    if qa_in or qa_out or spend.get("cost"):
        found.append(replace(fact, step_type=QA, engine=spend.get("engine") or engine,
                             model=spend.get("model") or "", attempts=0, input_tokens=qa_in,
                             output_tokens=qa_out, cost=float(spend.get("cost") or 0),
                             duration_s=0.0, failures=0, qa_passes=0, qa_fails=0))
    for review in step.get("reviews", ()):
        passed = review.get("verdict") == "PASS"
        found.append(replace(fact, engine=review.get("engine") or fact.engine,
                             model=review.get("model") or "", attempts=0, input_tokens=0,
                             output_tokens=0, cost=0.0, duration_s=0.0, failures=0,
                             qa_passes=int(passed), qa_fails=int(not passed)))
    return found


def _step_fact(run_id: str, engine: str, variant: str, step: dict[str, Any]) -> SpendFact:
    tokens_in, tokens_out = _usage(step)
    reviewed = bool(step.get("reviews"))  # then each verdict has its own fact
    return SpendFact(
        run=run_id, at=_when(step.get("updated_at")), step_type=str(step.get("type", "work")),
        engine=step.get("engine") or engine, model=step.get("model") or "",
        variant=step.get("variant") or variant, attempts=int(step.get("attempts", 0)),
        input_tokens=tokens_in, output_tokens=tokens_out, cost=float(step.get("cost") or 0),
        duration_s=float(step.get("duration_s", 0)), status=str(step.get("status", "")),
        failures=int(step.get("failures", 0)),
        qa_passes=0 if reviewed else int(step.get("qa_passes", 0)),
        qa_fails=0 if reviewed else int(step.get("qa_fails", 0)),
    )


def project_label(name: str, root_name: str) -> str:
    """The `project` label: project.name from project.toml, else the repository's folder."""
    return name or root_name
