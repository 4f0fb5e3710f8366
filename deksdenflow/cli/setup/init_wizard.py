"""`dflow init` on a terminal: a short wizard, one question per answer not given as a flag.
Its defaults are the detected ones, so pressing Enter throughout gives what `--yes` gives
(docs/decisions/1103-init-wizard.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

from rich.console import Console
from rich.prompt import IntPrompt, Prompt

from ...domain.config.settings import EngineConfig
from ...errors import DflowError, did_you_mean
from ...projects.answers import BudgetMode, InitAnswers, QaPolicy, defaults
from ...projects.detect import CiProvider, Detected

QUESTIONS: list[tuple[str, str, tuple[str, ...]]] = [
    ("base", "Base branch", ()),
    ("ci", "CI provider", get_args(CiProvider)),
    ("engine", "Engine for every phase", ()),
    ("model", "Model for that engine (empty: the engine's own default)", ()),
    ("qa_policy", "QA policy", get_args(QaPolicy)),
    ("budget_tokens", "Token budget per run (0: none)", ()),
    ("budget_mode", "Budget mode", get_args(BudgetMode)),
]


def ask(detected: Detected, console: Console, given: dict[str, Any], root: Path | None = None,
        kinds: list[str] | None = None) -> InitAnswers:
    """Ask for each answer not given; Enter keeps the default shown. Each answer is checked
    as it is given (the base branch exists, the engine is known) and asked again when wrong,
    and an engine that needs more (the command engine's command line) asks for it."""
    start = defaults(detected, **given)
    found = ", ".join(detected.engines) or "none (the demo engine works offline)"
    console.print(f"Setting up dflow. Agent CLIs on PATH: {found}.", markup=False)
    out = start.model_dump()
    for key, question, choices in QUESTIONS:
        if given.get(key) is not None:
            continue
        while True:
            out[key] = _prompt(console, key, question, choices, out[key])
            problem = _problem(key, out[key], root, kinds)
            if problem is None:
                break
            console.print(problem, markup=False)
    if out["engine"] == "command" and not out.get("command"):
        out["command"] = _command_line(console)
    return InitAnswers.model_validate(out)


def _prompt(console: Console, key: str, question: str, choices: tuple[str, ...],
            default: Any) -> Any:
    if key == "budget_tokens":
        return IntPrompt.ask(question, default=int(default), console=console)
    return Prompt.ask(question, default=str(default), console=console,
                      choices=list(choices) or None, show_default=bool(default))


def _problem(key: str, answer: Any, root: Path | None, kinds: list[str] | None) -> str | None:
    """Why this answer cannot be used, as one sentence; None when it can."""
    if key == "base" and root is not None:
        from ...projects.preflight import check_base  # why: start-up

        try:
            check_base(root, str(answer))
        except DflowError as exc:
            return str(exc).replace("pass --base with one of them", "answer one of them")
    if key == "engine" and kinds and answer not in kinds:
        return f"unknown engine '{answer}'{did_you_mean(str(answer), kinds)}; choose one of: " \
            f"{', '.join(kinds)}"
    return None


def _command_line(console: Console) -> str:
    """The command engine runs a command line: without one its first run fails."""
    from ...wiring import Wiring  # why: start-up

    while True:
        line = Prompt.ask("Command line for the command engine (the prompt comes on stdin "
                          "unless it names {prompt_file}; also {output_file}, {cwd}, {model})",
                          console=console).strip()
        config = EngineConfig(kind="command", options={"command": line})
        why = "the command engine needs a command line" if not line else \
            getattr(Wiring().engine("command", config), "cannot_run", lambda: None)()
        if not why:
            return line
        console.print(str(why), markup=False)
