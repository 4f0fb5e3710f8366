"""A project: one git repository that dflow manages, with its store and effective settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import environment
from ..domain.config.settings import ProjectSettings
from ..store import StateView, Store, Tx
from . import config, settings_trust
from .parts import Parts


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Project:
    """One repository dflow manages: its store, effective settings, paths and clock, and the
    parts the composition root wired in (context/parts.py). Build it through
    `deksdenflow.house.open_project`, never by hand in a service."""

    store: Store
    parts: Parts
    flags: dict[str, Any] = field(default_factory=dict)
    clock: Callable[[], datetime] = _now
    _resolved: dict[tuple[str, str, tuple[Any, ...]], config.ResolvedSettings] = field(
        default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.store.after = self._reconcile
        self.store.published = self._published
        self.store.settings_of = self.settings_of  # one owner of the effective settings
        self.store.adopted = lambda fresh: self.parts.notify(self, None, quiet=fresh)

    def _reconcile(self, tx: Tx) -> None:
        """After every transaction: what each touched run needs now (docs/decisions/0800)."""
        staged = tx.staged_project_text
        settings = self.settings_of(staged) if staged is not None else self.settings(tx.view)
        self.parts.reconcile(tx, settings, staged is not None)

    def _published(self, tx: Tx) -> None:
        """After a commit is on the ref (budget alerts are delivered then). Settings this
        process wrote were set by a person on this machine: trusted as made (decision 1510),
        before anything computes lines with them."""
        staged = tx.staged_project_text
        if staged is not None and tx.commit is not None:
            settings_trust.remember_local(self.store.git_dir, tx.view.project_text(), staged,
                                          str(tx.commit))
        self.parts.published(self, tx)

    @property
    def root(self) -> Path:
        """The main worktree of the repository (not a run's worktree)."""
        return self.store.git_dir.parent if self.store.git_dir.name == ".git" else Path(
            self.store.workdir or self.store.git_dir
        )

    def view(self) -> StateView:
        return self.store.read()

    def resolved(self, view: StateView | None = None) -> config.ResolvedSettings:
        view = view or self.view()
        return self._resolved_text(view.project_text())

    def settings_of(self, project_text: str) -> ProjectSettings:
        return self._resolved_text(project_text).settings

    def _resolved_text(self, text: str) -> config.ResolvedSettings:
        key = (text, repr(sorted(self.flags.items())), self._env_stamp())
        cached = self._resolved.get(key)
        if cached is None:
            # Parsing TOML on every job showed in the workflow benchmark; inputs are the key.
            cached = config.resolve(text, flags=self.flags, trust_dir=self.store.git_dir)
            if len(self._resolved) > 64:
                self._resolved.clear()
            self._resolved[key] = cached
        return cached  # shared: treat as read-only (settings change through project.toml)

    def settings(self, view: StateView | None = None) -> ProjectSettings:
        return self.resolved(view).settings


    def set_settings(self, values: dict[str, str], message: str = "dflow: config set",
                     kinds: tuple[str, ...] | None = None) -> None:
        """Set project.toml keys on the state ref in one commit, as `dflow config set` does
        (comments kept; an engine a phase names must be configured or one of `kinds`, by
        default the engines this dflow knows)."""
        known = self.parts.engine_kinds() if kinds is None else kinds

        def body(tx: Tx) -> None:
            text = tx.view.project_text()
            for key, raw in values.items():
                text = config.set_in_project_text(text, key, raw, kinds=known)
            tx.set_project_text(text)

        self.store.transact(body, message=message)

    def _env_stamp(self) -> tuple[Any, ...]:
        """What else settings depend on: DFLOW_* variables, the user config file's identity and
        this machine's settings trust record."""
        return environment.settings_stamp(str(self.store.git_dir))


def default_project_text(name: str, base_branch: str, engine: str) -> str:
    """The project.toml that `dflow init` writes: every section, with comments."""
    import tomlkit  # why: start-up

    doc = tomlkit.document()
    doc.add(tomlkit.comment("dflow project settings. Edit with `dflow config set KEY VALUE`."))
    doc.add(tomlkit.comment("Precedence: CLI flag > DFLOW_* env > this file > user config."))
    doc["schema_version"] = 1
    project = tomlkit.table()
    project["name"] = name
    project["base_branch"] = base_branch
    project["worktree_root"] = ""
    project["worktree_root"].comment("empty: '<repo>.worktrees' beside the repository")
    project["remote"] = "origin"
    project["sync"] = "auto"
    doc["project"] = project
    phases = tomlkit.table()
    phases["default"] = engine
    phases["default"].comment("engine for every phase unless plan/execute/qa name another")
    doc["phases"] = phases
    qa = tomlkit.table()
    qa["policy"] = "each_step"
    qa["policy"].comment("each_step | end | never")
    doc["qa"] = qa
    budget = tomlkit.table()
    budget["tokens"] = 0
    budget["mode"] = "off"
    budget["mode"].comment("strict (block) | warn | off")
    doc["budget"] = budget
    limits = tomlkit.table()
    limits["max_file_bytes"] = 5_000_000
    limits["max_file_bytes"].comment("dflow never commits or pushes a larger file")
    doc["limits"] = limits
    text = tomlkit.dumps(doc)
    return text if text.endswith("\n") else text + "\n"


def initialize(project: Project, base: str | None = None, engine: str | None = None,
               edit: Callable[[str], str] | None = None) -> bool:
    """Create the state ref (idempotent); whether it was created now."""
    store = project.store
    name = Path(store.workdir or store.git_dir).resolve().name
    text = default_project_text(name, base or store.head_branch(), engine or "codex")
    text = edit(text) if edit is not None else text  # `dflow init`'s other answers
    created = store.initialize(text)
    if created:  # the person here wrote these settings
        settings_trust.trust(store.git_dir, text, store.tip() or "")
    return created
