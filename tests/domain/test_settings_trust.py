"""Every settings field is classified for `dflow trust` (decision 1510): a field added to the
settings model fails here until someone decides whether a teammate may change it for
everyone (FREE) or whether it waits for a person on each machine (TRUST)."""

from __future__ import annotations

import typing
from collections.abc import Iterator

from pydantic import BaseModel

from deksdenflow.domain.config import settings_trust
from deksdenflow.domain.config.settings import ProjectSettings


def fields(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every leaf field of the settings model; `*` stands for a key of an open table."""
    for name, info in model.model_fields.items():
        if name == "schema_version":
            continue
        key, annotation = f"{prefix}{name}", info.annotation
        args = typing.get_args(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from fields(annotation, key + ".")
        elif typing.get_origin(annotation) is dict and isinstance(args[1], type) and \
                issubclass(args[1], BaseModel):
            yield from fields(args[1], key + ".*.")
        else:
            yield key


def test_every_settings_field_is_classified() -> None:
    unclassified = [k for k in fields(ProjectSettings)
                    if not any(settings_trust._matches(p, k.replace("*", "x"))
                               for p in settings_trust.KEYS)]
    assert unclassified == [], "classify these in domain/settings_trust.KEYS (TRUST or FREE)"


def test_the_table_names_no_field_that_is_gone() -> None:
    known = [k.replace("*", "x") for k in fields(ProjectSettings)]
    stale = [p for p in settings_trust.KEYS
             if not any(settings_trust._matches(p, k) for k in known)]
    assert stale == []


def test_a_key_nobody_classified_waits_for_trust() -> None:
    assert settings_trust.classify("engines.x.options") == settings_trust.TRUST
    assert settings_trust.classify("newsection.anything") == settings_trust.TRUST
    assert settings_trust.classify("budget.month.max_cost") == settings_trust.FREE


def test_the_issue_names_are_all_trust() -> None:
    for key in ("engines.codex.kind", "engines.command.options", "phases.qa", "qa.policy",
                "alerts.command", "ci.install", "project.worktree_root", "git.run_hooks",
                "secrets.env", "secrets.allow_files"):
        assert settings_trust.classify(key) == settings_trust.TRUST, key


def test_a_changed_engine_holds_back_only_the_jobs_that_run_it() -> None:
    untrusted = frozenset({"engines.evil.options"})
    assert settings_trust.blocker(untrusted, "plan", frozenset({"evil"})) == \
        "engines.evil.options"
    assert settings_trust.blocker(untrusted, "plan", frozenset({"demo"})) is None
    assert settings_trust.blocker(untrusted, "open_pr", frozenset()) is None
    assert settings_trust.blocker(frozenset({"phases.qa"}), "execute", frozenset()) is None
    assert settings_trust.blocker(frozenset({"phases.qa"}), "qa", frozenset()) == "phases.qa"
    assert settings_trust.blocker(frozenset({"git.run_hooks"}), "open_pr", frozenset()) == \
        "git.run_hooks"
    assert settings_trust.blocker(frozenset({"alerts.command"}), "qa", frozenset()) is None
