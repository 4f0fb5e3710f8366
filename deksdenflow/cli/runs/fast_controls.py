"""`dflow pause|resume RUN`, `dflow step approve RUN N` and `dflow new NAME --task T
[--no-plan]` (each with an optional `--json`) answered before Typer is imported
(docs/decisions/1315-controls-answer-before-typer.md).

The same service calls as the Typer commands, printed by the same functions (the commands in
`workflow_cmds` and `runs_cmds` use them too), with the same error handling: a DflowError is
`error: <sentence>` and its exit code, anything else goes through the CLI's own handler. Any
other spelling (options in other places, `-C`, `--debug`, `--engine`) is left to Typer. In a
repository with a remote the implicit sync runs around the command as the root callback runs
it (sync/seen.py): nothing before it while no ref moved, the push after it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from ...context.project import Project
    from ...domain.config.settings import ProjectSettings
    from ...domain.runs.models import RunSnapshot
    from ...sync.auto import AutoSync
    from ...sync.seen import Deferred
    from ...workflow.lifecycle.runs import RunLine

Action = Callable[[], tuple[int, str]]  # runs the command; (exit code, what stdout gets)


def answer(argv: list[str]) -> bool:
    """Run one of the control commands above without Typer and end the process; False:
    Typer must answer."""
    words = 2 if argv[:1] == ["step"] else 1
    if "--json" in argv[:words] or argv.count("--json") > 1:
        return False  # `dflow --json pause 1`: Typer refuses it (No such option), so must we
    as_json = "--json" in argv
    args = [a for a in argv if a != "--json"]
    action = _parse(args, as_json)
    if action is None:
        return False
    from ...reads import gitdir as cache

    common = cache.common_dir_of(os.getcwd())
    if common is None:
        return False
    sync = None
    if cache.may_have_remote(common):  # the root callback's implicit sync (decision 0403)
        from .. import fast

        try:
            from ... import environment

            environment.check_all()  # as _guarded does, before the sync reads settings
            sync = fast.implicit_sync(common, argv[0])
        except Exception:
            return False  # Typer's path words whatever is wrong
        if sync is not None:
            fast.say(sync.take_notes())
    _end(*_guarded(action, as_json), after=sync)


def _end(code: int, out: str, err: str, after: AutoSync | Deferred | None = None) -> NoReturn:
    """Print, push what the command changed (the implicit sync, where there is one), then
    end the process at once: the interpreter's teardown (freeing every object pydantic and
    pygit2 made, ~35-45 ms of CPU) is skipped. Nothing is left to run at exit: the commit is
    published and pushed, the lock released, no thread or atexit hook exists; both streams
    are flushed first (decision 1315)."""
    try:
        sys.stdout.write(out)
        sys.stdout.flush()
    except BrokenPipeError:  # `| head` had enough: quiet and successful (decision 0900)
        code = 0
    sys.stderr.write(err)
    sys.stderr.flush()
    if after is not None and code == 0:
        from .. import fast

        try:
            after.after_command()  # offline or refused: a warning among its notes
            fast.say(after.take_notes())
        except Exception as exc:  # a bug: told as the root handler tells it
            from ..app import _describe, debug_from_env

            message, exit_code = _describe(exc, debug_from_env())
            sys.stderr.write(f"error: {message}\n")
            sys.stderr.flush()
            code = int(exit_code)
    os._exit(code)


def _parse(args: list[str], as_json: bool) -> Action | None:
    match args:
        case ["pause" | "resume" as verb, run] if _plain(run):
            return lambda: (0, _state_change(verb, run, as_json))
        case ["step", "approve", run, step] if _plain(run) and _integer(step):
            return lambda: (0, _approve(run, int(step), as_json))
        case ["new", name, *options] if _plain(name):
            found = _new_options(options)
            if found is None:
                return None
            task, no_plan = found
            return lambda: (0, _new(name, task, no_plan, as_json))
    return None


def _integer(arg: str) -> bool:
    """What Typer reads as an int: ASCII digits only (`str.isdigit` takes `²` and `３`)."""
    return arg.isascii() and arg.isdigit()


def _plain(arg: str) -> bool:
    """An argument Typer would take as a value (not an option, not `--`)."""
    return not arg.startswith("-")


def _new_options(options: list[str]) -> tuple[str, bool] | None:
    """`--task T` (or `-t T`) once, `--no-plan` at most once, nothing else."""
    task: str | None = None
    no_plan = False
    rest = list(options)
    while rest:
        head = rest.pop(0)
        if head in ("--task", "-t") and task is None and rest and _plain(rest[0]):
            task = rest.pop(0)
        elif head == "--no-plan" and not no_plan:
            no_plan = True
        else:
            return None
    return (task, no_plan) if task is not None else None


def _guarded(action: Action, as_json: bool) -> tuple[int, str, str]:
    """(exit code, stdout, stderr): the command's output, or its error told exactly as
    `DflowGroup.invoke` tells it (its `_describe`, loaded only when there is an error)."""
    from ...exit_codes import ExitCode

    try:
        from ... import environment

        environment.check_all()  # a bad DFLOW_* value fails here, naming the variable
        code, out = action()
        return code, out, ""
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED), "", "interrupted\n"
    except Exception as exc:
        from ..app import _describe, debug_from_env

        message, code = _describe(exc, debug_from_env())
        out = json.dumps({"error": {"message": message, "code": int(code)}}) + "\n"
        return int(code), out if as_json else "", f"error: {message}\n"


def _state_change(verb: str, run: str, as_json: bool) -> str:
    from ...wiring import open_project
    from ...workflow.lifecycle import controls

    project = open_project()
    do = controls.pause if verb == "pause" else controls.resume
    return state_change_text(project, do(project, run), f"{verb}d", as_json)


def _approve(run: str, step: int, as_json: bool) -> str:
    from ...wiring import open_project
    from ...workflow.lifecycle import controls

    project = open_project()
    return approved_text(project, controls.approve_step(project, run, step), step, as_json)


def _new(name: str, task: str, no_plan: bool, as_json: bool) -> str:
    from ...wiring import open_project
    from ...workflow.lifecycle import runs

    project = open_project()
    snap = runs.create_run(project, name, task, plan=not no_plan)
    if as_json:
        return json_text(runs.run_line(snap, project.settings()))
    return created_text(snap, project.settings(), no_plan)


def json_text(line: RunLine) -> str:
    """What `--json` prints for a run's status line (as `render.emit_json` does)."""
    data: Any = line.model_dump(mode="json")
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def state_change_text(project: Project, snap: RunSnapshot, verb: str, as_json: bool) -> str:
    """`dflow pause|resume|cancel`: `paused 0001-x; it is paused`."""
    from ...workflow.lifecycle.runs import run_line, run_stage

    settings = project.settings()
    if as_json:
        return json_text(run_line(snap, settings))
    return f"{verb} {snap.run.id}; it is {run_stage(snap, settings)}\n"


def approved_text(project: Project, snap: RunSnapshot, step: int, as_json: bool) -> str:
    """`dflow step approve`: `approved 0001-x step 02; run is running`."""
    from ...workflow.lifecycle.runs import run_line, run_stage

    if as_json:
        return json_text(run_line(snap, project.settings()))
    return (f"approved {snap.run.id} step {step:02d}; run is "
            f"{run_stage(snap, project.settings())}\n")


def created_text(snap: RunSnapshot, settings: ProjectSettings, no_plan: bool) -> str:
    """`dflow new`: the run, its branch and worktree, its variant, what comes next."""
    from ...workflow.lifecycle.runs import run_stage

    text = f"created {snap.run.id} ({run_stage(snap, settings)}) on branch {snap.run.branch}\n"
    text += f"worktree: {snap.run.worktree}\n"
    if snap.run.variant:
        text += f"variant: {snap.run.variant}\n"
    if not no_plan:
        text += (f"plan requested; `dflow run {snap.run.id} --wait` plans and runs it here, "
                 "or start `dflow worker`\n")
    return text
