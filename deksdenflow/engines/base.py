"""What the built-in engines share (the interface itself is domain/agents/engine.py)."""

from __future__ import annotations

import os
import shlex
from typing import Any

from ..domain.agents.engine import Engine, EngineRequest, EngineResult, Phase, Sandbox
from ..domain.config.settings import EngineConfig
from ..errors import ConfigError
from .allowlist import allowed

__all__ = ["ConfiguredEngine", "Engine", "EngineRequest", "EngineResult", "Phase", "Sandbox"]

class ConfiguredEngine:
    """What the built-in engines share: their name, their config, and option lookup."""

    kind = ""
    # The engine's own variables (its key, its config dir): allowed besides the basics.
    own_env: tuple[str, ...] = ()

    def __init__(self, name: str, config: EngineConfig, **extra: Any) -> None:
        self.name = name
        self.config = config
        self.extra = extra

    def cannot_run(self) -> str | None:
        """Why this engine cannot run as configured, found without running an agent (`dflow
        doctor`); None when nothing is known to stop it."""
        return None

    def options(self, request: EngineRequest) -> dict[str, Any]:
        """The engine's options from project.toml, overridden by the request's own."""
        return {**self.config.options, **request.options}

    def model(self, request: EngineRequest) -> str:
        return request.model or self.config.model

    def args_option(self, options: dict[str, Any], key: str) -> list[str]:
        """A list-of-strings option; a plain string is split like a shell would."""
        value = options.get(key) or []
        if isinstance(value, str):
            return shlex.split(value)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise ConfigError(
            f"[engines.{self.name}] options.{key} in project.toml must be a list of strings"
        )

    def bool_option(self, options: dict[str, Any], key: str, default: bool) -> bool:
        value = options.get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(
                f"[engines.{self.name}] options.{key} in project.toml must be true or false"
            )
        return value

    def agent_env(self, request: EngineRequest, options: dict[str, Any]) -> dict[str, str]:
        """The agent's environment, with TMPDIR on its private temp dir when it has one."""
        env = self.env_option(options)
        if request.tmp_dir is not None:
            env.update(TMPDIR=str(request.tmp_dir), TMP=str(request.tmp_dir),
                       TEMP=str(request.tmp_dir))
        return env

    def env_option(self, options: dict[str, Any]) -> dict[str, str]:
        """The agent's environment: the allowed part of ours (engines/allowlist.py) plus the
        `env` option's table of values."""
        value = options.get("env") or {}
        if not isinstance(value, dict):
            raise ConfigError(
                f"[engines.{self.name}] options.env in project.toml must be a table of strings"
            )
        names = (*self.own_env, *self.env_names(), *self.config.env)
        return {**allowed(os.environ, names), **{str(k): str(v) for k, v in value.items()}}

    def env_names(self) -> tuple[str, ...]:
        """More names the engine needs, found where it keeps its own settings."""
        return ()
