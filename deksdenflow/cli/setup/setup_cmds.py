"""`dflow init` and `dflow doctor`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer

from ...context.project import Project
from ...errors import DflowError, UsageError
from ...projects.onboarding import init_repo
from ...reads.gitdir import STATE_REF
from ...wiring import Wiring, open_project
from ...workflow.health import doctor as doctor_service
from ..render import JSON_OPTION, console, emit_json, is_plain, warn
from . import init_wizard


def init(  # noqa: PLR0913 - every answer of the wizard is also a flag
    base: Optional[str] = typer.Option(None, "--base", help="Base branch (default: the remote's HEAD, else the current branch)."),  # noqa: UP045, E501
    engine: Optional[str] = typer.Option(None, "--engine", help="Default engine for every phase (default: the first agent CLI on PATH, else codex)."),  # noqa: UP045, E501
    model: Optional[str] = typer.Option(None, "--model", help="Model for that engine (default: the engine's own)."),  # noqa: UP045, E501
    ci_provider: Optional[str] = typer.Option(None, "--ci-provider", help="none, github or gitlab (default: detected from the remote's URL)."),  # noqa: UP045, E501
    qa_policy: Optional[str] = typer.Option(None, "--qa-policy", help="each_step, end or never (default: each_step)."),  # noqa: UP045, E501
    budget_tokens: Optional[int] = typer.Option(None, "--budget-tokens", min=0, help="Token budget per run; 0: none (default)."),  # noqa: UP045, E501
    budget_mode: Optional[str] = typer.Option(None, "--budget-mode", help="strict, warn or off (default: off)."),  # noqa: UP045, E501
    ci: Optional[str] = typer.Option(  # noqa: UP045
        None, "--ci", help="Also write a CI workflow that reports back: github or gitlab."
    ),
    checks: Optional[str] = typer.Option(  # noqa: UP045
        None, "--checks", help="The command CI runs as the project's checks (with --ci)."
    ),
    workers: int = typer.Option(
        0, "--workers", min=0,
        help="With --ci: also a job that runs N remote workers on CI runners (docs/ci.md)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Ask nothing: detected defaults and flags."),  # noqa: E501
) -> None:
    """Set up dflow in this repository (creates the state ref; safe to run again).

    On a terminal it asks a few questions (base branch, CI provider, engine and model, QA
    policy, budget), each defaulting to what it detected; every answer is also a flag, and
    with --yes, in CI or in a pipe it asks nothing and gives the same result.
    In a clone of a repository that already uses dflow, this adopts the remote's state,
    and `git fetch` is set up to bring the remote's state from then on.

    With --ci and --workers N it also writes a job that runs `dflow worker --remote origin
    --burst` on N CI runners, on a schedule and on demand (docs/ci.md).

    Example: dflow init --base main --engine demo --ci github
    """
    if ci is not None and ci not in ("github", "gitlab"):
        raise UsageError(f"--ci takes github or gitlab, not '{ci}'")
    if workers and ci is None:
        raise UsageError("--workers writes a CI job: give --ci github or --ci gitlab too")
    given: dict[str, Any] = {
        "base": base, "engine": engine, "model": model, "ci": ci_provider or ci,
        "qa_policy": qa_policy, "budget_tokens": budget_tokens, "budget_mode": budget_mode}
    open_project(".")  # outside a repository: one clear sentence, before any question
    root = Path(".")
    wizard = None if yes or not _is_terminal() else (
        lambda detected: init_wizard.ask(detected, console(), given, root,
                                         Wiring().engine_kinds()))
    result = init_repo(Wiring(), root, ask=wizard, **given)
    report, project = result.report, open_project(root)
    warn(report.warnings)
    tip = str(report.tip)[:12]
    if report.adopted:
        typer.echo(f"adopted the state of '{report.remote}': {STATE_REF} at {tip}")
    elif report.created:
        typer.echo(f"initialized {STATE_REF} at {tip}")
    else:
        typer.echo(f"already initialized: {STATE_REF} at {tip}")
    _register(project)
    if report.refspec_added:
        typer.echo(f"`git fetch {report.remote}` now brings its dflow state too")
    if report.untrusted:
        _trust_adopted(project, yes)
    if ci is not None:
        from ...ci import templates  # why: start-up

        done = templates.setup(project, ci, checks, workers)
        for path in done.paths:
            shown = path.relative_to(project.root) if path.is_relative_to(project.root) else path
            typer.echo(f"wrote {shown} and set ci.provider = {done.provider}; commit it: "
                       f"git add {shown} && git commit -m 'ci: dflow reports'")
        if done.install:
            typer.echo(f"CI installs dflow with: pip install \"{done.install}\" (ci.install)")
        else:
            typer.echo(f"ci.install is not set: {done.why_no_install}; set it with "
                       "`dflow config set ci.install 'deksdenflow @ git+https://...'` or the CI "
                       "variable DFLOW_INSTALL, or the CI job stops saying so")
        typer.echo(f"secret: {done.secret}")


def _trust_adopted(project: Project, yes: bool) -> None:
    """An adopted state's settings take effect here once trusted: list them and ask (--yes
    trusts them); a refusal leaves them waiting and the set-up done."""
    from ...sync import trust  # why: start-up
    from . import trust_cmds  # why: start-up

    report = trust.pending(project)
    if not report.changes:
        return
    try:
        trust_cmds.decide(project, report, yes)
    except DflowError as exc:
        typer.echo(f"warning: {exc}", err=True)


def _is_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty() and not is_plain()


def _register(project: Project) -> None:
    """`dflow init` registers the repository, so `dflow projects` and `-C` know it."""
    from ...projects.onboarding import register  # why: start-up

    try:
        entry, new = register(project, project.settings().project.base_branch)
    except DflowError as exc:  # the repository is set up; only the registry failed
        typer.echo(f"warning: not registered in the projects list: {exc}", err=True)
        return
    if new:
        typer.echo(f"registered as project '{entry.name}' (`dflow projects` lists them)")


def doctor(json_: bool = JSON_OPTION,
           repair: bool = typer.Option(False, "--repair",
                                       help="Put the state ref back on its last good state "
                                       "(the tip found is kept under a quarantine ref), "
                                       "then give every stuck run the job it needs.")) -> None:
    """Check git, pygit2, the state ref, runs, engines, the lock and optional tools.

    Example: dflow doctor --json
    """
    if repair:
        fixed = doctor_service.repair(".")
        if fixed.changed:
            typer.echo(f"restored {STATE_REF} to {fixed.restored[:12]}; the tip found "
                       f"({fixed.found[:12]}) is kept as {fixed.quarantined}")
        elif not fixed.remotes_set_aside:
            typer.echo(f"{STATE_REF} at {fixed.restored[:12]} is good; nothing to repair")
        else:
            typer.echo(f"{STATE_REF} at {fixed.restored[:12]} is good")
        for tracking, kept in fixed.remotes_set_aside:
            typer.echo(f"set aside the refused state {tracking} pointed at (kept as {kept}); "
                       "it comes back with the next fetch until the remote is fixed")
        from ...workflow.health import doctor_runs  # why: start-up

        for branch in doctor_runs.undo_killed_creations(open_project()):
            typer.echo(f"removed branch and worktree {branch}: a killed dflow new made them "
                       "and never recorded its run")
        for run_id in doctor_runs.repair(open_project()):
            typer.echo(f"repaired {run_id}: requested what it needs")
    report = doctor_service.run_checks(Wiring(), ".")
    if json_:
        emit_json({"ok": report.ok, **report.model_dump(mode="json")})
    else:
        marks = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}
        for c in report.checks:
            typer.echo(f"{marks[c.level]}  {c.name:<11} {c.detail}")
            if c.fix and c.level != "ok":
                typer.echo(f"      {'':<11} -> {c.fix}")
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(doctor)
