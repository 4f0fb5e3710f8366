"""The answers of `dflow init` (wizard or flags: the same model, the same result) and how
they become project.toml (docs/decisions/1103-init-wizard.md)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from ..context import config
from ..domain.config.settings import ProjectSettings
from ..errors import UsageError
from .detect import CiProvider, Detected

QaPolicy = Literal["each_step", "end", "never"]
BudgetMode = Literal["strict", "warn", "off"]


class InitAnswers(BaseModel):
    base: str
    ci: CiProvider = "none"
    engine: str
    model: str = ""  # empty: the engine's own default model
    qa_policy: QaPolicy = "each_step"
    budget_tokens: int = 0
    budget_mode: BudgetMode = "off"
    command: str = ""  # the command engine's command line (options.command)


def defaults(detected: Detected, **given: Any) -> InitAnswers:
    """The detected defaults, overridden by every answer given (None: not given)."""
    values = {"base": detected.base, "ci": detected.ci, "engine": detected.engine}
    values.update({k: v for k, v in given.items() if v is not None})
    try:
        return InitAnswers.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        flag = "--" + str(first["loc"][0]).replace("_", "-")
        raise UsageError(f"{flag}: {first['msg']}") from exc


def answers_of(settings: ProjectSettings) -> InitAnswers:
    """The answers a project's effective settings amount to (what `projects add` reports: a
    repository set up before keeps its own, whatever was detected)."""
    engine = settings.phases.default
    configured = settings.engines.get(engine)
    return InitAnswers(base=settings.project.base_branch, ci=settings.ci.provider,
                       engine=engine, model=configured.model if configured else "",
                       qa_policy=settings.qa.policy, budget_tokens=settings.budget.tokens,
                       budget_mode=settings.budget.mode)


def apply(project_text: str, answers: InitAnswers, kinds: list[str]) -> str:
    """project.toml with the answers set (comments kept)."""
    values: dict[str, str] = {
        "project.base_branch": answers.base,
        "phases.default": answers.engine,
        "ci.provider": answers.ci,
        "qa.policy": answers.qa_policy,
        "budget.tokens": str(answers.budget_tokens),
        "budget.mode": answers.budget_mode,
    }
    if answers.model:
        values[f"engines.{answers.engine}.model"] = f'"{answers.model}"'
    if answers.command:  # a TOML basic string: JSON's escapes are TOML's
        values[f"engines.{answers.engine}.options.command"] = json.dumps(
            answers.command, ensure_ascii=False)
    text = project_text
    for key, value in values.items():
        raw = value if key in ("budget.tokens",) or value.startswith('"') else f'"{value}"'
        text = config.set_in_project_text(text, key, raw, kinds=kinds)
    return text
