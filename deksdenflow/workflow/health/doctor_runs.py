"""`dflow doctor` for runs and engines: runs that break the reconciler's invariant (an
unfinished run with no open job and no reason to wait), engines a phase cannot use, and
`--repair`, which reconciles every run (docs/decisions/0800-intent-and-one-reconciler.md)."""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel

from ...context.project import Project
from ...domain.agents.engine import Engine, SelfChecking
from ...domain.config.settings import EngineConfig, ProjectSettings
from ...domain.decisions.reconcile import needs
from ...domain.runs.models import RunSnapshot
from ...errors import DflowError
from ...store import Tx
from ..lifecycle import creation, scheduling

# One doctor check and the tools it names: here, below doctor.py (which imports this module).
Level = Literal["ok", "warn", "fail"]
OPTIONAL_TOOLS = {
    "codex": "npm install -g @openai/codex (or choose another engine: dflow init --engine demo)",
    "claude": "npm install -g @anthropic-ai/claude-code",
    "gh": "install the GitHub CLI and run `gh auth login` to open PRs",
    "glab": "install the GitLab CLI and run `glab auth login` to open MRs",
}


class Check(BaseModel):
    name: str
    level: Level
    detail: str
    fix: str = ""


BINARY_KINDS = ("codex", "claude")
CHECK_NAMES = {"plan": "planner", "execute": "executor", "qa": "reviewer"}


def stuck_runs(project: Project) -> list[RunSnapshot]:
    """Unfinished runs with no open job although they could go on."""
    view = project.view()
    settings = project.settings(view)
    return [s for s in view.runs() if not s.open_jobs and needs(s, settings).jobs]


def run_checks(project: Project) -> list[Check]:
    return [_stuck_check(project), *_creation_checks(project)]


def _stuck_check(project: Project) -> Check:
    stuck = stuck_runs(project)
    if not stuck:
        return Check(name="runs", level="ok", detail="every unfinished run has a job or a "
                     "reason to wait")
    ids = ", ".join(s.run.id for s in stuck)
    return Check(name="runs", level="fail", detail=f"no job and no reason to wait: {ids}",
                 fix="dflow doctor --repair")


def _creation_checks(project: Project) -> list[Check]:
    left = creation.interrupted(project)
    if not left:
        return []
    return [Check(name="new", level="warn",
                  detail=f"branch and worktree of a killed dflow new, never recorded as a run: "
                         f"{', '.join(left)}",
                  fix="dflow doctor --repair (or any dflow new / dflow worker) removes them")]


def undo_killed_creations(project: Project) -> list[str]:
    """`doctor --repair`: remove what killed `dflow new`s made and never recorded."""
    return creation.recover(project)


def engine_checks(settings: ProjectSettings, kinds: list[str],
                  engine_of: Callable[[str, EngineConfig], Engine] | None = None) -> list[Check]:
    """Every phase's engine resolves to a known kind, its binary is on PATH, and the engine
    itself knows of nothing that stops it (a command engine's command line, an openai
    engine's server: `cannot_run`, asked once per engine)."""
    checks = []
    why_not: dict[str, str | None] = {}
    for phase in ("plan", "execute", "qa"):
        name = settings.phases.engine_for(phase)
        config = settings.engine(name)
        binary = _binary(config.kind, config.options)
        if engine_of is not None and config.kind in kinds and name not in why_not:
            why_not[name] = _cannot_run(engine_of, name, config)
        if config.kind not in kinds:
            checks.append(Check(name=CHECK_NAMES[phase], level="fail",
                                detail=f"'{name}' has the unknown kind '{config.kind}'",
                                fix=f"dflow config set phases.{phase} demo (or another engine)"))
        elif binary is not None and shutil.which(binary) is None:
            checks.append(Check(name=CHECK_NAMES[phase], level="fail",
                                detail=f"'{name}' runs `{binary}`, which is not on PATH",
                                fix=OPTIONAL_TOOLS.get(config.kind, f"install {binary}")))
        elif why_not.get(name):
            checks.append(Check(name=CHECK_NAMES[phase], level="fail",
                                detail=f"'{name}' cannot run: {why_not[name]}",
                                fix=f"fix [engines.{name}], or dflow config set phases.{phase} "
                                    "ENGINE"))
        else:
            checks.append(Check(name=CHECK_NAMES[phase], level="ok",
                                detail=f"{name} ({config.kind})"))
    return checks


def sandbox_checks(project: Project, settings: ProjectSettings) -> list[Check]:
    """What each engine of the phases says it needs on this machine (Claude Code's sandbox:
    bubblewrap, socat, user namespaces); engines that cannot say are skipped."""
    checks: list[Check] = []
    for name in dict.fromkeys(settings.phases.engine_for(p) for p in CHECK_NAMES):
        try:
            engine = project.parts.engine(name, settings.engine(name))
        except DflowError:
            continue  # engine_checks already says what is wrong with it
        if isinstance(engine, SelfChecking):
            checks += [Check(name=c.name, level=c.level, detail=c.detail, fix=c.fix)
                       for c in engine.checks()]
    return checks


def _cannot_run(engine_of: Callable[[str, EngineConfig], Engine], name: str,
                config: EngineConfig) -> str | None:
    try:
        engine = engine_of(name, config)
    except DflowError as exc:
        return str(exc)
    probe = getattr(engine, "cannot_run", None)  # an engine from a plug-in may have none
    found = probe() if callable(probe) else None
    return str(found) if found else None


def _binary(kind: str, options: dict[str, object]) -> str | None:
    if kind in BINARY_KINDS:
        return str(options.get("binary") or kind)
    if kind == "command" and options.get("command"):
        words = shlex.split(str(options["command"]))
        return words[0] if words else None
    return None


def repair(project: Project) -> list[str]:
    """Reconcile every stuck run in one commit; the ids of the runs repaired."""

    stuck = [s.run.uid for s in stuck_runs(project)]

    def body(tx: Tx) -> list[str]:
        settings = project.settings(tx.view)
        for uid in stuck:
            scheduling.reconcile(tx, uid, settings)
        return [tx.run(uid).run.id for uid in stuck]

    return project.store.transact(body) if stuck else []
