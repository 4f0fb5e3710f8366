"""Calling an engine for one phase of a run: choose it, run it, keep a redacted transcript."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...context import tracing
from ...context.parts import Parts
from ...context.project import Project
from ...domain.agents.engine import EngineRequest, EngineResult, Phase, Sandbox
from ...domain.agents.redaction import redact, secret_values
from ...domain.agents.text_shape import SUMMARY_CHARS, one_line
from ...domain.config import settings_trust
from ...domain.config.settings import ProjectSettings
from ...domain.eventlog.payloads import Figures
from ...domain.runs.models import Job, RunSnapshot
from ...errors import ConfigError, EngineError, EngineNotFound, GitOperationError
from ...git.worktree import Worktree
from ...store import Tx
from ..checkouts import worktrees
from .prompts import Prompt

DEMO_HINT = "use --engine demo to try dflow without an agent"
SANDBOX: dict[str, Sandbox] = {"plan": "read-only", "execute": "workspace-write",
                               "qa": "read-only"}


@dataclass
class AgentCall:
    """One engine run and what the workflow records about it."""

    engine: str
    model: str
    prompt: Prompt
    result: EngineResult
    duration_s: float
    variant: str = ""

    def figures(self) -> Figures:
        """What every phase records: engine, model, prompt hash, variant, usage, cost, time."""
        return Figures(engine=self.engine, model=self.result.model or self.model,
                       prompt_hash=self.prompt.sha256, variant=self.variant or None,
                       usage=self.result.usage, cost=self.result.cost,
                       duration_s=round(self.duration_s, 3), sandboxed=self.result.sandboxed)


def engine_name(snap: RunSnapshot, settings: ProjectSettings, phase: str,
                job: Job | None = None) -> str:
    """The attempt's engine (`step retry --engine`) wins over the run's (`dflow new|run
    --engine`), which wins over the project's per-phase choice."""
    chosen = job.payload.get("engine") if job is not None else None
    return str(chosen or snap.run.engine or settings.phases.engine_for(phase))


def model_of(snap: RunSnapshot, settings: ProjectSettings, name: str,
             job: Job | None = None, phase: str = "") -> str:
    """The attempt's model (`step retry --model`), else the run's (`--model`, when it chose
    this engine), else its variant's, else the phase's default (`models.PHASE`, when this is
    the phase's engine), else the engine's own (decision 1221)."""
    chosen = job.payload.get("model") if job is not None else None
    run_model = snap.run.model if snap.run.engine == name else None
    variant = settings.variants.get(snap.run.variant) if snap.run.variant else None
    return str(chosen or run_model or (variant.model if variant else "")
               or _phase_model(settings, name, phase) or settings.engine(name).model)


def _phase_model(settings: ProjectSettings, name: str, phase: str) -> str:
    engine_phase = "execute" if phase == "fix_ci" else phase
    if not phase or settings.phases.engine_for(engine_phase) != name:
        return ""
    return settings.models.for_phase(phase)


def worktree_of(project: Project, snap: RunSnapshot) -> Worktree:
    """The run's worktree with the git dir this clone recorded for it."""
    return worktrees.located(project, worktree_path(snap))


def worktree_path(snap: RunSnapshot) -> Path:
    path = Path(snap.run.worktree)
    if not snap.run.worktree or not path.is_dir():
        raise GitOperationError(
            f"the worktree of {snap.run.id} ({snap.run.worktree or 'none'}) is missing; "
            f"restore it with `git worktree add {snap.run.worktree or 'DIR'} {snap.run.branch}`"
        )
    return path


def invoke(parts: Parts, snap: RunSnapshot, settings: ProjectSettings, phase: Phase,
           prompt: Prompt, schema: dict[str, Any] | None = None, job: Job | None = None,
           model_phase: str = "", cwd: Worktree | Path | None = None) -> AgentCall:
    """Run the phase's engine in `cwd` (default: the run's worktree; a parallel step's own
    worktree otherwise); EngineError on any failure. `model_phase` names the default model's
    phase when it is not `phase` (fix-CI)."""
    name = engine_name(snap, settings, phase, job)
    config = settings.engine(name)
    model = model_of(snap, settings, name, job, model_phase or phase)
    config = config.model_copy(update={"model": model})
    refused = settings.models.refusal(name, config.model)
    if refused is not None:
        raise ConfigError(refused)
    _check_trusted(settings, job.kind.value if job is not None else phase, name)
    try:
        engine = parts.engine(name, config)
    except EngineError as exc:
        raise _with_hint(exc) from exc
    cwd = cwd or worktree_path(snap)
    writable = SANDBOX[phase] == "workspace-write"
    if writable and not isinstance(cwd, Worktree):
        raise GitOperationError(f"{cwd}: an agent writes only in a worktree dflow located")
    request = EngineRequest(prompt=prompt.text, cwd=Path(cwd), sandbox=SANDBOX[phase],
                            phase=phase, model=config.model, timeout_s=config.timeout,
                            output_schema=schema, options=dict(config.options),
                            tmp_dir=worktrees.agent_tmp(cwd) if isinstance(cwd, Worktree) else None)
    started = time.monotonic()
    try:
        with tracing.span(f"dflow.engine {name}", engine=name, model=config.model,
                          phase=phase, variant=snap.run.variant or None):
            result = engine.run(request)
    except EngineNotFound as exc:
        raise _with_hint(exc) from exc
    if result.exit_status != 0:
        raise EngineError(f"engine '{name}' exited with status {result.exit_status} "
                          f"during {phase} of {snap.run.id}")
    return AgentCall(name, config.model, prompt, result, time.monotonic() - started,
                     snap.run.variant)


def _check_trusted(settings: ProjectSettings, kind: str, name: str) -> None:
    """The last door before a program starts: an engine whose settings came from origin and
    nobody here trusted never runs (the workers already leave such jobs alone; decision 1510)."""
    key = settings_trust.blocker(settings.untrusted(), kind, frozenset({name}))
    if key is not None:
        raise ConfigError(f"{settings_trust.reason(key)}; review and accept it with "
                          f"`{settings_trust.COMMAND}`")


class FailedTranscripts:
    """Keeps the transcript of a failed attempt until the runner records the failure."""

    def __init__(self) -> None:
        self._kept: dict[str, str] = {}

    def keep(self, job_id: str, exc: EngineError, call: AgentCall | None = None) -> None:
        """The engine's own transcript, or the call's when its output broke the contract."""
        text = exc.transcript or (call.result.transcript or call.result.output if call else "")
        if text:
            self._kept[job_id] = text

    def save(self, tx: Tx, job_id: str, run_uid: str, name: str) -> None:
        text = self._kept.pop(job_id, "")
        if not text:
            return
        settings = tx.view.settings()
        tx.put_artifact(run_uid, f"transcripts/{name}.log", clean(text, settings).encode(),
                        settings.artifacts.max_bytes)


def _with_hint(exc: EngineError) -> EngineError:
    """A missing engine always names the way to try dflow without one."""
    message = str(exc)
    if "--engine demo" in message:
        return exc
    return type(exc)(f"{message}; {DEMO_HINT}", transcript=exc.transcript)


def clean(text: str, settings: ProjectSettings, limit: int | None = None) -> str:
    """Agent text on its way to the ref: secrets masked, optionally cut."""
    out = redact(text, secret_values(settings.secret_env_names()))
    return out if limit is None or len(out) <= limit else out[: limit - 3] + "..."


def line(text: str, settings: ProjectSettings, limit: int = SUMMARY_CHARS) -> str:
    """Agent text shown as one line (a summary, a finding): secrets masked, folded, capped."""
    return one_line(clean(text, settings), limit)


def save_transcript(tx: Tx, snap: RunSnapshot, settings: ProjectSettings, name: str,
                    call: AgentCall) -> str:
    """Store the transcript, and the prompt the agent was given (`dflow logs --prompt`), as
    capped, redacted artifacts; returns the transcript's name."""
    text = call.result.transcript or call.result.output
    tx.put_artifact(snap.run.uid, prompt_artifact(f"transcripts/{name}.log"),
                    clean(call.prompt.text, settings).encode(), settings.artifacts.max_bytes)
    return tx.put_artifact(snap.run.uid, f"transcripts/{name}.log",
                           clean(text, settings).encode(), settings.artifacts.max_bytes)


def prompt_artifact(transcript: str) -> str:
    """Where the prompt of the attempt whose transcript is `transcript` is kept."""
    return "prompts/" + transcript.removeprefix("transcripts/").removesuffix(".log") + ".md"
