"""The one small interface between the services and the engines: what an engine is asked
and what it answers. The engines implement it (deksdenflow/engines/); the services use it
with an engine the composition root built, never importing an engine themselves."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from ..runs.models import Usage

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
    sandboxed: bool | None = Field(
        default=None, description="whether the agent's commands ran in the engine's OS sandbox, "
        "as the engine reported it; None: the engine cannot say (command, openai, demo)")


class EngineCheck(BaseModel):
    """What `dflow doctor` says about what an engine needs on this machine (its sandbox)."""

    name: str
    level: Literal["ok", "warn", "fail"]
    detail: str
    fix: str = ""


class Engine(Protocol):
    name: str

    def run(self, request: EngineRequest) -> EngineResult:
        """Do the work or raise EngineError (missing binary, timeout, bad exit, bad output)."""
        ...


@runtime_checkable
class SelfChecking(Protocol):
    """An engine that can say whether this machine has what it needs (`dflow doctor` asks
    every engine of the project that has `checks`; plugins need not)."""

    def checks(self) -> list[EngineCheck]: ...
