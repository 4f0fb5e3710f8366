"""Prompt and model variants: which one a new run gets, and its prompt templates.

A run's variant is chosen once, when it is created (`dflow new --variant NAME`, else by the
variants' shares, deterministically from the run id) and recorded on the run; every attempt
records it beside its model and prompt hash, so `dflow report --by variant` compares them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ...domain.config.settings import ProjectSettings, Variant
from ...domain.runs.models import RunSnapshot
from ...errors import ConfigError, UsageError
from . import prompts

DEFAULT = "default"


def check(settings: ProjectSettings, asked: str | None) -> None:
    """A variant named on the command line must exist."""
    if asked is None or asked == DEFAULT or asked in settings.variants:
        return
    known = ", ".join(sorted(settings.variants)) or "none configured"
    raise UsageError(f"no variant '{asked}' in project.toml (known: {known}; '{DEFAULT}' "
                     f"means none); add one with `dflow config set variants.{asked}.model M`")


def choose(settings: ProjectSettings, run_id: str, asked: str | None = None) -> str:
    """The variant of a new run: the one asked for, else a draw by the shares that is a pure
    function of the run id (`NNNN-name`); '' is the default (no variant)."""
    check(settings, asked)
    if asked is not None:
        return "" if asked == DEFAULT else asked
    point = int(hashlib.sha256(run_id.encode()).hexdigest()[:12], 16) / 16**12
    reached = 0.0
    for name, variant in sorted(settings.variants.items()):
        reached += variant.share
        if point < reached:
            return name
    return ""


def of(snap: RunSnapshot, settings: ProjectSettings) -> Variant | None:
    """The run's variant as configured now (None: the default, or one since removed)."""
    return settings.variants.get(snap.run.variant) if snap.run.variant else None


def render(root: Path, snap: RunSnapshot, settings: ProjectSettings, name: str,
           values: dict[str, str]) -> prompts.Prompt:
    """The named prompt for this run: its variant's folder first, then the project's."""
    variant = of(snap, settings)
    folder = _folder(root, snap.run.variant, variant.prompts) if variant else None
    return prompts.render(name, root, values, first=folder)


def _folder(root: Path, name: str, relative: str) -> Path | None:
    if not relative:
        return None
    path = Path(relative)
    resolved = (root / path).resolve()
    if path.is_absolute() or not resolved.is_relative_to(root.resolve()):
        raise ConfigError(f"variants.{name}.prompts must be a folder inside the repository, "
                          f"not '{relative}'")
    return resolved
