"""`dflow projects add`: clone -> init with the detected settings -> optional CI template,
each step reported to a sink and recorded as a `project.setup` event on the new project's
state ref. A setup that stops part-way resumes when it is run again: the clone lands by an
atomic rename, and init is idempotent (docs/decisions/1101-setup-resumes.md).
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from ..ci.templates import target, write
from ..context.parts import Parts
from ..context.project import Project
from ..domain.eventlog.payloads import ProjectSetup
from ..errors import DflowError, GitOperationError, NotAGitRepository, UsageError
from ..git import runner as git
from ..sync import setup as sync_setup
from . import identity, preflight, registry
from .answers import InitAnswers, answers_of, apply, defaults
from .detect import Detected, detect
from .registry import ProjectEntry

StepName = Literal["clone", "init", "ci"]


SetupEvent = ProjectSetup  # one step of a setup changed state; recorded as is


class AddResult(BaseModel):
    entry: ProjectEntry
    steps: list[SetupEvent]
    answers: InitAnswers
    warnings: list[str] = []  # for the user (the CLI prints them on stderr)


Sink = Callable[[SetupEvent], None]


class SetupFailed(DflowError):
    """A setup step failed; running the same `dflow projects add` again resumes it."""


def is_url(source: str) -> bool:
    return "://" in source or bool(re.match(r"^[\w.-]+@[\w.-]+:", source))


def name_of(source: str) -> str:
    tail = re.split(r"[/:]", source.rstrip("/"))[-1]
    return tail.removesuffix(".git") or "project"


def add(parts: Parts, source: str, *, name: str | None = None, ci_template: bool = False,
        sink: Sink | None = None, **given: Any) -> AddResult:
    """Register `source` (a path or a URL to clone) and set dflow up in it."""
    entry = _entry_for(parts, source, name, given.get("base"))
    registry.put(entry.model_copy(update={"setup": entry.setup}))
    run = _Steps(entry.name, sink)
    try:
        if entry.managed:
            run.step("clone", lambda: _clone(source, Path(entry.path)))
        init = run.step("init", lambda: init_repo(parts, Path(entry.path), **given))
        answers = init.answers
        if ci_template:
            run.step("ci", lambda: _ci(parts, Path(entry.path), answers))
    except DflowError as exc:
        registry.put(entry.model_copy(update={"setup": run.current}))
        raise SetupFailed(f"setting up '{entry.name}' stopped at {run.current}: {exc}; run the "
                          f"same `dflow projects add` again to resume") from exc
    project = parts.open_project(entry.path)
    record(project, run.events)
    answers = answers_of(project.settings())  # an existing setup's own, not the detected
    entry.base = answers.base
    entry.remote = entry.remote or project.store.remote_url()
    entry.setup = "done"
    registry.put(entry)
    warnings = list(init.report.warnings)
    if init.report.untrusted:  # an adopted state: its settings wait for a person here
        warnings.append(f"settings from origin changed {', '.join(init.report.untrusted)}: the "
                        f"jobs that use them wait until you review them with "
                        f"`dflow -C {entry.name} trust`")
    return AddResult(entry=entry, steps=run.events, answers=answers, warnings=warnings)


def _entry_for(parts: Parts, source: str, name: str | None, base: str | None) -> ProjectEntry:
    current = registry.load()
    if is_url(source) and not Path(source).exists():
        name = name or name_of(source)
        path = str((registry.clone_dir(current) / name).resolve())
        entry = ProjectEntry(name=name, path=path, remote=source, managed=True, setup="clone")
        same = identity.registered_as(current, url=source)
    else:
        root = _repo_root(parts, Path(source))
        name = name or root.name
        entry = ProjectEntry(name=name, path=str(root), setup="init")
        same = identity.registered_as(current, root=root, remote=_origin(parts, root))
    if same is not None and (same.name, same.path) != (entry.name, entry.path):
        raise UsageError(f"{source} is the repository already registered as '{same.name}' "
                         f"({same.path}); use `dflow -C {same.name} ...`, or `dflow projects "
                         f"remove {same.name}` first")
    old = current.projects.get(entry.name)
    if old is not None and old.path != entry.path:
        raise UsageError(f"a project named '{entry.name}' is already registered ({old.path}); "
                         "choose another with --name")
    if old is not None:
        entry = old.model_copy(update={"setup": old.setup if old.setup != "done" else "init"})
    entry.base = base or entry.base
    return entry


def _origin(parts: Parts, root: Path) -> str:
    store = parts.open_project(root).store
    return store.remote_url()


def _repo_root(parts: Parts, path: Path) -> Path:
    if not path.exists():
        raise UsageError(f"{path} is neither a directory nor a git URL; give a repository's "
                         "path or URL")
    try:
        root = parts.open_project(path).root.resolve()
    except NotAGitRepository as exc:
        raise UsageError(f"{path} is not a git repository; `git init` it first or give a "
                         "repository's URL") from exc
    preflight.refuse_bare(root)  # before the registry names it
    return root


def _clone(url: str, dest: Path) -> str:
    """Clone into a side directory, then rename: `dest` exists only as a whole clone."""
    if (dest / ".git").exists():
        return "skipped: already cloned"
    if dest.exists() and any(dest.iterdir()):
        raise UsageError(f"{dest} exists and is not a clone; move it away")
    partial = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)  # a clone that stopped half-way starts over
    dest.parent.mkdir(parents=True, exist_ok=True)
    git.run(dest.parent, "clone", "--quiet", "--", url, str(partial), timeout=3600)
    if dest.exists():
        dest.rmdir()
    partial.rename(dest)
    return str(dest)


class InitResult(BaseModel):
    answers: InitAnswers
    report: sync_setup.InitReport


Ask = Callable[[Detected], InitAnswers]


def init_repo(parts: Parts, root: Path, ask: Ask | None = None, **given: Any) -> InitResult:
    """`dflow init`: the given answers, the rest detected (or asked through `ask` when the
    state is new); the same answers give the same project.toml either way. Nothing is
    written when the repository is bare or the base branch does not exist."""
    preflight.refuse_bare(root)
    detected = detect(root)
    fresh = not parts.open_project(root).store.is_initialized
    answers = ask(detected) if ask is not None and fresh else defaults(detected, **given)
    if fresh:  # an existing state keeps its base; the answers apply only to a new one
        preflight.check_base(root, answers.base)
    project, report = sync_setup.init(parts, root, base=answers.base, engine=answers.engine,
                                      edit=lambda text: apply(text, answers,
                                                                parts.engine_kinds()))
    project.settings()  # every later command reads them: fail here, naming the bad key
    return InitResult(answers=answers, report=report)


def register(project: Project, base: str = "") -> tuple[ProjectEntry, bool]:
    """Register a repository `dflow init` set up (kept as is when already registered);
    the entry and whether it is new."""
    root = str(project.root.resolve())

    def change(current: registry.Registry) -> tuple[ProjectEntry, bool]:
        for entry in current.projects.values():
            if entry.path == root:
                return entry, False
        name, n = Path(root).name, 1
        while name in current.projects:
            n += 1
            name = f"{Path(root).name}-{n}"
        entry = ProjectEntry(name=name, path=root, remote=project.store.remote_url(), base=base)
        current.projects[name] = entry
        return entry, True

    result: tuple[ProjectEntry, bool] = registry.update(change)
    return result


def _ci(parts: Parts, root: Path, answers: InitAnswers) -> str:

    if answers.ci == "none":
        raise UsageError("no CI provider was detected from the remote; pass --ci github|gitlab")
    if target(root, answers.ci).exists():
        return "skipped: the workflow exists"
    return " ".join(str(p) for p in write(parts.open_project(root), answers.ci))


def record(project: Project, events: list[SetupEvent]) -> None:
    """The setup's steps as `project.setup` events on the project's state ref."""
    def change(tx):  # type: ignore[no-untyped-def]
        for e in events:
            if e.status != "started":
                tx.emit(e)

    project.store.transact(change, message="dflow: project setup")


class _Steps:
    def __init__(self, project: str, sink: Sink | None) -> None:
        self.project = project
        self.sink = sink or (lambda e: None)
        self.events: list[SetupEvent] = []
        self.current: StepName = "clone"

    def step(self, name: StepName, work: Callable[[], Any]) -> Any:
        self.current = name
        self._say(name, "started")
        started = time.monotonic()
        try:
            result = work()
        except (DflowError, GitOperationError, OSError) as exc:
            self._say(name, "failed", str(exc), time.monotonic() - started)
            if isinstance(exc, DflowError):
                raise
            raise DflowError(str(exc)) from exc
        took = time.monotonic() - started
        skipped = isinstance(result, str) and result.startswith("skipped")
        detail = result if isinstance(result, str) else ""
        self._say(name, "skipped" if skipped else "done", detail, took)
        return result

    def _say(self, step: StepName, status: str, detail: str = "", seconds: float = 0) -> None:
        event = SetupEvent(project=self.project, step=step, status=status,
                           detail=detail, seconds=round(seconds, 3))
        self.events.append(event)
        self.sink(event)
