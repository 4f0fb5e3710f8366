"""Finding an engine by kind: built-ins first, then the `deksdenflow.engines` entry points."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any

from ..domain.config.settings import EngineConfig
from ..errors import EngineNotFound
from .base import Engine

ENTRY_POINT_GROUP = "deksdenflow.engines"

# kind -> "module:factory"; modules are imported only when their engine is used.
BUILTINS: dict[str, str] = {
    "codex": "deksdenflow.engines.codex:CodexEngine",
    "claude": "deksdenflow.engines.claude:ClaudeEngine",
    "openai": "deksdenflow.engines.openai:OpenAIEngine",
    "command": "deksdenflow.engines.command:CommandEngine",
    "demo": "deksdenflow.engines.demo:DemoEngine",
}


def _load(target: str) -> Callable[..., Engine]:
    module, _, attr = target.partition(":")
    factory: Callable[..., Engine] = getattr(importlib.import_module(module), attr)
    return factory


def kinds() -> list[str]:
    """Every engine kind: the built-ins and the installed plugins' entry points. Listing the
    entry points reads every installed distribution's metadata (~2 ms, twice per run), so
    the list is kept while `sys.path` and its folders are unchanged (installing a package
    changes its site folder)."""
    return list(_kinds(_path_stamp()))


def _path_stamp() -> tuple[tuple[str, int], ...]:
    stamp = []
    for entry in sys.path:
        try:
            stamp.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            stamp.append((entry, -1))
    return tuple(stamp)


@lru_cache(maxsize=4)
def _kinds(stamp: tuple[tuple[str, int], ...]) -> tuple[str, ...]:
    plugins = [ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)]
    return tuple(sorted(set(BUILTINS) | set(plugins)))


def get_engine(name: str, config: EngineConfig, **extra: Any) -> Engine:
    """Build the engine called `name` from its config (kind, model, options)."""
    kind = config.kind or name
    if kind in BUILTINS:
        try:
            factory = _load(BUILTINS[kind])
        except (ImportError, AttributeError) as exc:
            raise EngineNotFound(f"engine '{kind}' is not available in this dflow ({exc})") from exc
        return factory(name=name, config=config, **extra)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == kind:
            factory = ep.load()
            return factory(name=name, config=config, **extra)  # type: ignore[no-any-return]
    known = ", ".join(kinds())
    raise EngineNotFound(
        f"unknown engine kind '{kind}' for engine '{name}' (known: {known}); "
        "use --engine demo to try dflow without an agent"
    )
