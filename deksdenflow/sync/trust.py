"""`dflow trust`: what changed in the settings since a person here last trusted them, and the
record that they now do (docs/decisions/1510-settings-trust.md).

The record is this machine's (context/settings_trust.py, in the git dir); nothing here writes
the state ref. Values are shown through redaction, and a secret's never (it says `(hidden)`).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from ..context import settings_trust as record
from ..context.project import Project
from ..domain.agents.redaction import redact, secret_values, strip_controls
from ..domain.config import settings_trust
from ..store.sharing import settings_log

HIDDEN = "(hidden)"
MISSING = "(unset)"


class TrustChange(BaseModel):
    """One setting that changed since it was last trusted here."""

    key: str
    old: str = Field(description="the trusted value as TOML-ish text; (unset) or (hidden)")
    new: str = Field(description="the value on the state ref; (unset) or (hidden)")
    author: str = Field(default="", description="who changed it (the state commit's author, "
                        "user@host); empty when the history does not tell")
    commit: str = Field(default="", description="the state commit that changed it")


class TrustReport(BaseModel):
    """What `dflow trust` shows (and, with --yes or an answer, records)."""

    commit: str = Field(default="", description="the state commit whose settings are shown")
    changes: list[TrustChange] = Field(default_factory=list)
    trusted: bool = Field(default=False, description="the changes were trusted now")


def pending(project: Project) -> TrustReport:
    """The TRUST settings on the state ref that differ from what this machine trusted."""
    store = project.store
    view = project.view()
    tip = store.tip() or ""
    text = view.project_text()
    trusted = record.trusted_values(store.git_dir)
    current = record.current(text)
    keys = settings_trust.changed(trusted, current)
    found = record.read(store.git_dir)
    history = settings_log.changes(store.repo, found.commit if found is not None else "") \
        if keys else []
    changes = [_change(key, trusted, current, history, project) for key in keys]
    return TrustReport(commit=tip, changes=changes)


def accept(project: Project, shown: TrustReport) -> TrustReport:
    """Trust the settings as they were shown (a change that arrived since stays pending)."""
    text = _text_at(project, shown.commit)
    record.trust(project.store.git_dir, text, shown.commit)
    return shown.model_copy(update={"trusted": True})


def accept_all(project: Project) -> TrustReport:
    """Trust the settings at the tip (`dflow init --yes` adopting a state, CI)."""
    return accept(project, pending(project))


def _text_at(project: Project, commit: str) -> str:
    from ..store.lite import LiteView

    if not commit:
        return project.view().project_text()
    data = LiteView(project.store.repo, commit).blob("project.toml")
    return data.decode() if data is not None else ""


def _change(key: str, trusted: dict[str, Any], current: dict[str, Any],
            history: list[settings_log.SettingsChange], project: Project) -> TrustChange:
    secret = settings_trust.is_secret(key)
    author, commit = _who(key, current.get(key), history)
    return TrustChange(key=key, old=_shown(key, trusted, secret, project),
                       new=_shown(key, current, secret, project), author=author, commit=commit)


def _who(key: str, value: Any, history: list[settings_log.SettingsChange]) -> tuple[str, str]:
    """The newest commit (written on one clone, not a merge) that set `key` to `value`."""
    for change in history:
        try:
            before, after = record.current(change.before), record.current(change.after)
        except Exception:  # an old text this dflow cannot read: it did not make this value
            continue
        if after.get(key) == value and before.get(key) != value:
            return change.author, change.commit
    return "", ""


def _shown(key: str, values: dict[str, Any], secret: bool, project: Project) -> str:
    if key not in values:
        return MISSING
    if secret:
        return HIDDEN
    value = values[key]
    text = value if isinstance(value, str) and value else json.dumps(value, sort_keys=True)
    # A value is printed on a terminal: no token shape, no secret variable's value, no
    # control characters (it came from another clone).
    return strip_controls(redact(text, secret_values(project.settings().secret_env_names())))
