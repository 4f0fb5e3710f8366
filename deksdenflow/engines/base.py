"""The one small interface every engine implements."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from ..domain.models import Usage

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
