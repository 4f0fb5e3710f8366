"""Finding an engine by kind: built-ins first, then the `deksdenflow.engines` entry points."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from ..domain.settings import EngineConfig
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
    plugins = [ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)]
    return sorted(set(BUILTINS) | set(plugins))


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
