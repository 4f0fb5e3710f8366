"""This machine's record of the settings a person here trusted (docs/decisions/1510).

The record is `<git dir>/deksdenflow/settings-trust.json`: the values of every TRUST key
(domain/config/settings_trust.py) as last trusted, and the state commit they were trusted at. It is
this clone's fact: never on the state ref, never pushed. No record means nothing beyond the
defaults is trusted. Settings a person sets here (`dflow init`, `dflow config set`) are
recorded as they are published; what a sync brings waits for `dflow trust`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .. import environment
from ..domain.config import settings_trust
from ..domain.config.settings import ProjectSettings
from ..store.encoding import codec

RECORD = "settings-trust.json"
RECORD_VERSION = 1


def record_path(git_dir: str | os.PathLike[str]) -> Path:
    return Path(git_dir) / "deksdenflow" / RECORD


class Record:
    """The trusted values of the TRUST keys, and the state commit they were trusted at."""

    __slots__ = ("at", "commit", "values")

    def __init__(self, values: dict[str, Any], commit: str = "", at: str = "") -> None:
        self.values, self.commit, self.at = values, commit, at


def read(git_dir: str | os.PathLike[str]) -> Record | None:
    """The record, or None when there is none (or one this version cannot read: then nothing
    beyond the defaults is trusted, the safe side)."""
    try:
        doc = json.loads(record_path(git_dir).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("schema_version") != RECORD_VERSION:
        return None
    values = doc.get("values")
    if not isinstance(values, dict):
        return None
    return Record(values, str(doc.get("commit") or ""), str(doc.get("at") or ""))


def trusted_values(git_dir: str | os.PathLike[str]) -> dict[str, Any]:
    record = read(git_dir)
    return dict(record.values) if record is not None else dict(defaults())


def write(git_dir: str | os.PathLike[str], values: dict[str, Any], commit: str) -> None:
    """Replace the record in one rename (a reader sees the old one or the new one)."""
    path = record_path(git_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"schema_version": RECORD_VERSION, "commit": commit,
           "at": datetime.now(UTC).isoformat(timespec="seconds"), "values": values}
    tmp = path.with_name(f"{RECORD}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


@functools.lru_cache(maxsize=1)
def defaults() -> dict[str, Any]:
    return settings_trust.gated(ProjectSettings().model_dump(mode="json"))


@functools.lru_cache(maxsize=16)
def _current(project_text: str) -> tuple[tuple[str, Any], ...]:

    doc = ProjectSettings().model_dump(mode="json")
    if project_text:
        _merge(doc, codec.settings_doc(project_text, "project.toml"))
    # Validated and dumped, so `1800` and `1800.0` are one value; a text valid only with this
    # machine's own layers is compared as written.
    with contextlib.suppress(ValidationError):
        doc = ProjectSettings.model_validate(doc).model_dump(mode="json")
    return tuple(settings_trust.gated(doc).items())


def current(project_text: str) -> dict[str, Any]:
    """The TRUST keys' values that project.toml (over the defaults) gives."""
    return dict(_current(project_text))


def _merge(into: dict[str, Any], doc: dict[str, Any]) -> None:
    for k, v in doc.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


def trusts_all() -> bool:
    """DFLOW_TRUST_SETTINGS=1: a CI job trusts the settings of the commit it runs."""
    return environment.flag("DFLOW_TRUST_SETTINGS")


def untrusted(git_dir: str | os.PathLike[str], project_text: str) -> frozenset[str]:
    """The TRUST keys whose value on the state ref is not what a person here trusted."""
    if trusts_all():
        return frozenset()
    return frozenset(settings_trust.changed(trusted_values(git_dir), current(project_text)))


def remember_local(git_dir: str | os.PathLike[str], before: str, after: str,
                   commit: str) -> None:
    """A person here changed project.toml from `before` to `after`: what they changed is
    trusted as made (what a sync brought before stays pending)."""
    old, new = current(before), current(after)
    keys = settings_trust.changed(old, new)
    if not keys:
        return
    values = trusted_values(git_dir)
    for key in keys:
        if key in new:
            values[key] = new[key]
        else:
            values.pop(key, None)
    record = read(git_dir)
    write(git_dir, values, record.commit if record is not None else commit)


def trust(git_dir: str | os.PathLike[str], project_text: str, commit: str) -> None:
    """Trust every TRUST key as project.toml at `commit` sets it."""
    write(git_dir, current(project_text), commit)
