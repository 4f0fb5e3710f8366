"""`dflow report`: the ledger's figures for people — grouped, over time, as distributions."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field, computed_field

from ..errors import UsageError
from .ledger import Ledger, SpendFact, ledger, project_label

if TYPE_CHECKING:
    from ..context.project import Project

GroupBy = Literal["engine", "model", "variant", "step-type"]
GROUPINGS: tuple[str, ...] = ("engine", "model", "variant", "step-type")
DURATION_BOUNDS = (10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0)


class Group(BaseModel):
    key: str
    steps: int = 0
    attempts: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    tokens: int = 0
    cost: float = 0.0
    duration_s: float = 0.0
    qa_passes: int = 0
    qa_fails: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def qa_pass_rate(self) -> float | None:
        seen = self.qa_passes + self.qa_fails
        return self.qa_passes / seen if seen else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def error_rate(self) -> float | None:
        return self.errors / self.attempts if self.attempts else None


class Day(BaseModel):
    day: str
    tokens: int = 0
    cost: float = 0.0


class Bucket(BaseModel):
    le: str = Field(description="upper bound in seconds, or +Inf")
    steps: int = 0


class Report(BaseModel):
    project: str
    since: datetime | None
    by: str
    runs: int
    total: Group
    groups: list[Group]
    days: list[Day]
    durations: list[Bucket]


def for_project(project: Project, by: str = "model", since: datetime | None = None) -> Report:
    """The report of one project, read from its state ref (`dflow report`, the console)."""
    view = project.view()
    name = project_label(view.settings().project.name, project.root.name)
    return build(ledger(name, view.snapshot_docs()), by, since)


def build(book: Ledger, by: str = "model", since: datetime | None = None) -> Report:
    if by not in GROUPINGS:
        raise UsageError(f"--by wants one of {', '.join(GROUPINGS)}, not '{by}'")
    spends = [s for s in book.spends if since is None or (s.at is not None and s.at >= since)]
    groups: dict[str, Group] = {}
    total = Group(key="total")
    days: dict[str, Day] = {}
    buckets = [0] * (len(DURATION_BOUNDS) + 1)
    for s in spends:
        key = _key(s, by)
        _add(groups.setdefault(key, Group(key=key)), s)
        _add(total, s)
        if s.at is not None:
            day = days.setdefault(s.at.date().isoformat(), Day(day=s.at.date().isoformat()))
            day.tokens += s.tokens
            day.cost += s.cost
        if s.attempts:
            buckets[_bucket(s.duration_s)] += 1
    runs = {s.run for s in spends}
    return Report(
        project=book.project, since=since, by=by, runs=len(runs), total=total,
        groups=sorted(groups.values(), key=lambda g: (-g.tokens, g.key)),
        days=[days[d] for d in sorted(days)],
        durations=[Bucket(le=_label(i), steps=n) for i, n in enumerate(buckets)],
    )


def _key(s: SpendFact, by: str) -> str:
    value = {"engine": s.engine, "model": s.model, "variant": s.variant,
             "step-type": s.step_type}[by]
    return value or ("default" if by == "variant" else "(none)")


def _add(group: Group, s: SpendFact) -> None:
    group.steps += 1 if s.attempts else 0
    group.attempts += s.attempts
    group.errors += s.failures
    group.input_tokens += s.input_tokens
    group.output_tokens += s.output_tokens
    group.tokens += s.tokens
    group.cost += s.cost
    group.duration_s += s.duration_s
    group.qa_passes += s.qa_passes
    group.qa_fails += s.qa_fails


def _bucket(seconds: float) -> int:
    for i, bound in enumerate(DURATION_BOUNDS):
        if seconds <= bound:
            return i
    return len(DURATION_BOUNDS)


def _label(i: int) -> str:
    return f"{DURATION_BOUNDS[i]:g}" if i < len(DURATION_BOUNDS) else "+Inf"

