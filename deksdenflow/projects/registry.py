"""The projects registry: `projects.toml` in the user's config dir (platformdirs, so
`XDG_CONFIG_HOME` is honoured). Every change is a read-modify-write under a file lock,
published by an atomic rename, so two processes adding at once lose nothing
(docs/decisions/1100-projects-registry.md).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs
import tomlkit
from filelock import FileLock
from pydantic import BaseModel, ValidationError

from .. import environment
from ..errors import ConfigError, DflowError, did_you_mean

REGISTRY_SCHEMA_VERSION = 1
LOCK_TIMEOUT_S = 30.0


class ProjectNotRegistered(DflowError):
    """A name that is not in the registry."""


class ProjectEntry(BaseModel):
    """One registered project: where it lives and where it came from."""

    name: str
    path: str
    remote: str = ""  # the URL it was cloned from, or its origin's URL
    managed: bool = False  # dflow cloned it into the clone dir (only then may it delete it)
    base: str = ""
    added: datetime | None = None
    setup: str = "done"  # "done", or the step a setup stopped before (it resumes there)


class Registry(BaseModel):
    schema_version: int = REGISTRY_SCHEMA_VERSION
    clone_dir: str = ""  # where URLs are cloned; empty: the user's data dir
    projects: dict[str, ProjectEntry] = {}

    def find(self, name_or_path: str) -> ProjectEntry | None:
        """By name, else by path (the project whose directory holds `name_or_path`)."""
        if name_or_path in self.projects:
            return self.projects[name_or_path]
        return self.containing(Path(name_or_path))

    def containing(self, path: Path) -> ProjectEntry | None:
        """The project whose directory is `path` or holds it (the deepest one)."""
        try:
            where = path.resolve()
        except OSError:
            return None
        best: ProjectEntry | None = None
        for entry in self.projects.values():
            root = Path(entry.path)
            if (where == root or root in where.parents) and (
                    best is None or len(entry.path) > len(best.path)):
                best = entry
        return best


def registry_path() -> Path:
    return platformdirs.user_config_path("dflow") / "projects.toml"


def default_clone_dir() -> Path:
    return platformdirs.user_data_path("dflow") / "projects"


def clone_dir(registry: Registry) -> Path:
    """Where a URL is cloned: DFLOW_CLONE_DIR, else `clone_dir` in the registry, else the
    user's data dir."""
    chosen = environment.text("DFLOW_CLONE_DIR") or registry.clone_dir
    return Path(chosen).expanduser() if chosen else default_clone_dir()


def load(path: Path | None = None) -> Registry:
    """The registry as it is on disk (empty when there is none yet)."""
    path = path or registry_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        return Registry()
    except OSError as exc:
        raise ConfigError(f"cannot read the projects registry {path}: {exc}") from exc
    try:
        doc: dict[str, Any] = tomlkit.parse(text).unwrap()
        for name, entry in (doc.get("projects") or {}).items():
            if isinstance(entry, dict):
                entry["name"] = name
        registry = Registry.model_validate(doc)
    except (ValidationError, ValueError) as exc:
        raise ConfigError(f"the projects registry {path} is not valid ({exc}); fix or remove "
                          "it and add the projects again") from exc
    if registry.schema_version > REGISTRY_SCHEMA_VERSION:
        raise ConfigError(f"the projects registry {path} was written by a newer dflow "
                          f"(schema {registry.schema_version}); upgrade dflow")
    return registry


def update(change: Callable[[Registry], Any], path: Path | None = None) -> Any:
    """Apply `change` to the registry under the lock and write it back atomically."""
    path = path or registry_path()
    with _locked(path):
        registry = load(path)
        result = change(registry)
        _write(path, registry)
    return result


def put(entry: ProjectEntry) -> ProjectEntry:
    """Register (or update) one project."""

    def change(registry: Registry) -> ProjectEntry:
        if entry.added is None:
            old = registry.projects.get(entry.name)
            entry.added = old.added if old and old.added else datetime.now(UTC)
        registry.projects[entry.name] = entry
        return entry

    result: ProjectEntry = update(change)
    return result


def remove(name: str) -> ProjectEntry:
    def change(registry: Registry) -> ProjectEntry:
        entry = registry.projects.pop(name, None)
        if entry is None:
            raise ProjectNotRegistered(f"no project named '{name}'"
                                       f"{did_you_mean(name, list(registry.projects))}; "
                                       "`dflow projects` lists them")
        return entry

    result: ProjectEntry = update(change)
    return result


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT_S)
    try:
        with lock:
            yield
    except TimeoutError as exc:
        raise DflowError(f"the projects registry {path} stayed locked for {LOCK_TIMEOUT_S:g}s; "
                         "is another dflow stuck? try again") from exc


def _write(path: Path, registry: Registry) -> None:
    doc = tomlkit.document()
    doc.add(tomlkit.comment("dflow projects registry; change it with `dflow projects`."))
    doc["schema_version"] = registry.schema_version
    if registry.clone_dir:
        doc["clone_dir"] = registry.clone_dir
    projects = tomlkit.table()
    for name, entry in sorted(registry.projects.items()):
        data = entry.model_dump(mode="json", exclude={"name"}, exclude_defaults=True)
        data["path"] = entry.path
        projects[name] = data
    doc["projects"] = projects
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".projects.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(tomlkit.dumps(doc))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
