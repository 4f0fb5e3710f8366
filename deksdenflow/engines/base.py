"""The one small interface every engine implements."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from ..domain.models import Usage
from ..domain.settings import EngineConfig
from ..errors import ConfigError

Sandbox = Literal["read-only", "workspace-write"]
Phase = Literal["plan", "execute", "qa"]


class EngineRequest(BaseModel):
    """Everything an engine gets: planning and QA run read-only, execution workspace-write."""

    prompt: str
    cwd: Path
    sandbox: Sandbox
    phase: Phase
    model: str = ""
    timeout_s: float = 1800.0
    output_schema: dict[str, Any] | None = Field(
        default=None, description="JSON schema the final output must satisfy, when given"
    )
    options: dict[str, Any] = Field(default_factory=dict)
    tmp_dir: Path | None = Field(
        default=None, description="the agent's private temp dir (TMPDIR), inside the worktree's "
        "ignored area, so the system temp dir can stay outside its sandbox")


class EngineResult(BaseModel):
    """What came back. `output` is validated against the request's schema when one was given."""

    output: str = Field(description="the final message (JSON text when a schema was given)")
    usage: Usage = Field(default_factory=Usage)
    cost: float | None = None
    exit_status: int = 0
    transcript: str = Field(default="", description="raw engine log; redacted before storing")
    model: str = ""


class Engine(Protocol):
    name: str

    def run(self, request: EngineRequest) -> EngineResult:
        """Do the work or raise EngineError (missing binary, timeout, bad exit, bad output)."""
        ...


class ConfiguredEngine:
    """What the built-in engines share: their name, their config, and option lookup."""

    kind = ""

    def __init__(self, name: str, config: EngineConfig, **extra: Any) -> None:
        self.name = name
        self.config = config
        self.extra = extra

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
        """The agent's environment: ours plus the `env` option's table."""
        value = options.get("env") or {}
        if not isinstance(value, dict):
            raise ConfigError(
                f"[engines.{self.name}] options.env in project.toml must be a table of strings"
            )
        return {**os.environ, **{str(k): str(v) for k, v in value.items()}}
