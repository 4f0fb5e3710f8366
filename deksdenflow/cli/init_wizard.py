"""`dflow init` on a terminal: a short wizard, one question per answer not given as a flag.
Its defaults are the detected ones, so pressing Enter throughout gives what `--yes` gives
(docs/decisions/1103-init-wizard.md)."""

from __future__ import annotations

from typing import Any, get_args

from rich.console import Console
from rich.prompt import IntPrompt, Prompt

from ..projects.answers import BudgetMode, InitAnswers, QaPolicy, defaults
from ..projects.detect import CiProvider, Detected

QUESTIONS: list[tuple[str, str, tuple[str, ...]]] = [
    ("base", "Base branch", ()),
    ("ci", "CI provider", get_args(CiProvider)),
    ("engine", "Engine for every phase", ()),
    ("model", "Model for that engine (empty: the engine's own default)", ()),
    ("qa_policy", "QA policy", get_args(QaPolicy)),
    ("budget_tokens", "Token budget per run (0: none)", ()),
    ("budget_mode", "Budget mode", get_args(BudgetMode)),
]


def ask(detected: Detected, console: Console, given: dict[str, Any]) -> InitAnswers:
    """Ask for each answer not given; Enter keeps the default shown."""
    start = defaults(detected, **given)
    found = ", ".join(detected.engines) or "none (the demo engine works offline)"
    console.print(f"Setting up dflow. Agent CLIs on PATH: {found}.", markup=False)
    out = start.model_dump()
    for key, question, choices in QUESTIONS:
        if given.get(key) is not None:
            continue
        if key == "budget_tokens":
            out[key] = IntPrompt.ask(question, default=int(out[key]), console=console)
        else:
            out[key] = Prompt.ask(question, default=str(out[key]), console=console,
                                  choices=list(choices) or None,
                                  show_default=bool(out[key]))
    return InitAnswers.model_validate(out)
