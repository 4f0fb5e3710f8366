"""The composition root: the one place that builds the job-handler registry, the number
allocator, the sync policy and the engines, and hands them to the CLI, the console, the pool
and the tests (docs/architecture.md).

Everything is built on first use: `dflow status` opens a project through here without
importing a job handler or an engine. Nothing registers itself on import and nothing here is
module-level state: a `Wiring` is an object its caller owns."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from . import environment
from .context.parts import JobHandler, SharedClaimer
from .context.project import Project, initialize
from .domain.runs.models import JobKind
from .errors import DflowError, UsageError
from .store import open_store
from .store.plumbing.libgit2 import configure_libgit2

if TYPE_CHECKING:
    from .domain.agents.engine import Engine
    from .domain.config.settings import EngineConfig, ProjectSettings
    from .domain.runs.models import JobKind
    from .store import Tx
    from .sync.auto import AutoSync

HANDLER_MODULES_ENV = "DFLOW_JOB_HANDLERS"


class Wiring:
    """What services receive through `Project.parts` (context/parts.py)."""

    def __init__(self, handlers: Mapping[JobKind, JobHandler] | None = None,
                 handler_modules: tuple[str, ...] | None = None,
                 note: Callable[[str], None] | None = None) -> None:
        self._note = note
        self._overrides = dict(handlers or {})
        self._modules = handler_modules
        self._registry: dict[JobKind, JobHandler] | None = None

    def __getstate__(self) -> dict[str, Any]:
        # The pool's worker processes get a copy (spawn): they build their own registry.
        return {**self.__dict__, "_registry": None, "_note": None}

    # --- projects -----------------------------------------------------------------------------

    def open_project(self, path: str | os.PathLike[str] = ".", **flags: Any) -> Project:
        store = open_store(path)
        configure_libgit2(fsync=environment.flag("DFLOW_FSYNC"))
        return Project(store, self, {k: v for k, v in flags.items() if v is not None})

    def init_project(self, path: str | os.PathLike[str] = ".", base: str | None = None,
                     engine: str | None = None, edit: Callable[[str], str] | None = None,
                     ) -> tuple[Project, bool]:
        """Create the state ref (idempotent). Returns the project and whether it was created."""
        project = self.open_project(path)
        return project, initialize(project, base, engine, edit)

    # --- the parts (context/parts.py) -----------------------------------------------------------

    def reconcile(self, tx: Tx, settings: ProjectSettings, every_run: bool) -> None:
        from .workflow.lifecycle import scheduling  # why: start-up

        scheduling.reconcile_touched(tx, settings, every_run=every_run)

    def published(self, project: Project, tx: Tx) -> None:
        from .reads import excerpts  # why: start-up

        excerpts.write_through(project, tx)  # the changed runs' status lines (decision 1304)
        # The settings of the commit this transaction published, never the ref read again: a
        # `git fetch` takes no dflow lock and may have moved it to a tip nobody checked.
        settings = project.settings(tx.view)
        self.notify(project, sorted({e.run for e in tx.events if e.run}), settings=settings)
        if not any(e.type == "run.budget_alert" for e in tx.events):
            return
        from .workflow.spend import alerts  # why: start-up

        alerts.deliver(tx.events, settings, settings.project.name or project.root.name)

    def notify(self, project: Project, runs: list[str] | None, quiet: bool = False,
               settings: ProjectSettings | None = None) -> None:
        if runs == []:
            return
        told = (settings or project.settings()).notify
        if not (told.command.strip() or told.webhook_url.strip()):
            return  # nobody to tell: not even the notices module is imported
        from .workflow.spend import notify  # why: start-up

        try:
            notify.tell(project, runs, quiet=quiet)
        except (DflowError, OSError) as e:  # a published commit never fails over a notice
            self.note(f"a notice was not sent: {e}")

    def handler(self, kind: JobKind) -> JobHandler | None:
        if self._registry is None:
            self._registry = self._build_registry()
        return self._registry.get(kind)

    def claim_number(self, project: Project) -> int:
        from .sync import numbers  # why: start-up

        return numbers.claim_number(project)

    def shared_claims(self, project: Project, worker: str,
                      holds: Callable[[str], bool] | None) -> SharedClaimer | None:
        from .sync import leases  # why: start-up

        if not leases.is_shared(project):
            return None
        settings = project.settings()
        return leases.SharedClaims(project, settings.project.remote, worker,
                                   settings.worker.lease_s, holds)

    def undo_killed_creations(self, project: Project) -> list[str]:
        from .workflow.lifecycle import creation  # why: start-up

        return creation.recover(project)

    def check_push(self, project: Project, base: str, tip: str, what: str) -> None:
        from .workflow.delivery.push_check import check_branch  # why: start-up

        check_branch(project.root, base, tip, project.settings(), what)

    def note(self, text: str) -> None:
        if self._note is not None:
            self._note(text)
        else:  # the CLI's (and a worker's) default: one line on stderr, like git's warnings
            sys.stderr.write(f"warning: {text}\n")

    def engine(self, name: str, config: EngineConfig) -> Engine:
        from .engines import registry  # why: start-up

        return registry.get_engine(name, config)

    def engine_kinds(self) -> list[str]:
        from .engines import registry  # why: start-up

        return registry.kinds()

    def auto_sync(self) -> AutoSync:
        """The implicit sync around one CLI command (decision 0403)."""
        from .sync.auto import AutoSync  # why: start-up

        return AutoSync(self.open_project)

    def _build_registry(self) -> dict[JobKind, JobHandler]:
        from .ci.handlers import handlers as ci_handlers  # why: start-up
        from .jobs.runner import Noop  # why: start-up
        from .workflow.handlers import handlers as workflow_handlers  # why: start-up

        registry: dict[JobKind, JobHandler] = {JobKind.NOOP: Noop()}
        registry.update(workflow_handlers())
        registry.update(ci_handlers())
        for name in self._handler_modules():
            registry.update(_plugin_handlers(name))
        registry.update(self._overrides)
        return registry

    def _handler_modules(self) -> tuple[str, ...]:
        if self._modules is not None:
            return self._modules
        raw = environment.text(HANDLER_MODULES_ENV)
        return tuple(m.strip() for m in raw.split(",") if m.strip())


def _plugin_handlers(name: str) -> Mapping[JobKind, JobHandler]:
    """A module named in DFLOW_JOB_HANDLERS declares `HANDLERS` (kind -> handler); it may
    replace a built-in kind's handler (the pool tests' stand-in handler does)."""
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise UsageError(
            f"cannot import job handler module '{name}' ({exc}); fix {HANDLER_MODULES_ENV}"
        ) from exc
    found = getattr(module, "HANDLERS", None)
    if not isinstance(found, Mapping):
        raise UsageError(f"job handler module '{name}' has no HANDLERS mapping; fix "
                         f"{HANDLER_MODULES_ENV}")
    return found


def open_project(path: str | os.PathLike[str] = ".", **flags: Any) -> Project:
    """A project wired with a fresh composition root (what the CLI and console use)."""
    return Wiring().open_project(path, **flags)


def init_project(path: str | os.PathLike[str] = ".", base: str | None = None,
                 engine: str | None = None, edit: Callable[[str], str] | None = None,
                 ) -> tuple[Project, bool]:
    return Wiring().init_project(path, base, engine, edit)
