"""The plan job: the planning engine proposes the contract and steps; dflow checks, writes
and commits them on the run's branch, then records one step run per step file."""

from __future__ import annotations

import re
from collections.abc import Callable

from pydantic import ValidationError

from ...context.project import Project
from ...domain.agents.agent_output import CONTRACT_FILES, STEP_FILE, PlanOutput, strict_json
from ...domain.agents.text_shape import TITLE_CHARS, one_line
from ...domain.config.settings import ProjectSettings
from ...domain.eventlog.payloads import PlannedStep, RunPlanFailed, RunPlanned
from ...domain.runs import graph
from ...domain.runs.models import Job, RunSnapshot, StepType
from ...domain.schemas import schema_for
from ...errors import AgentOutputError, EngineError
from ...git.worktree import Worktree
from ...store import Tx
from ..checkouts import ancestry, placement
from ..lifecycle.runs import folder as folder  # re-exported: it lives with the other run reads
from . import agents, changes, contract, variants

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # always with fullmatch
MAX_FILE_BYTES = 200_000
MAX_PLAN_BYTES = 1_000_000
PARALLEL_NOTE = ("Parallel steps: yes. Steps whose `depends_on` are finished run at the same "
                 "time, each in its own worktree, and are merged into the run branch in "
                 "dependency order.")
SERIAL_NOTE = "Parallel steps: no. Steps run one after another in the order of their numbers."


def parse_plan(output: str, snap: RunSnapshot) -> PlanOutput:
    """Untrusted planner output -> a PlanOutput whose files all stay in the protocol folder."""
    try:
        plan = PlanOutput.model_validate(strict_json(output))
    except (ValueError, ValidationError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AgentOutputError(f"the plan for {snap.run.id} does not match the plan schema "
                               f"({first})") from exc
    where = folder(snap)
    names = [f.path for f in plan.files]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise AgentOutputError(f"the planner proposed {', '.join(map(repr, twice))} more than "
                               "once; rejected the plan")
    for item in plan.files:
        name = item.path
        if not SAFE_NAME.fullmatch(name) or ".." in name:
            raise AgentOutputError(f"the planner proposed the file name {name!r}, which is "
                                   f"not a plain file name inside {where}/; rejected the plan")
        if len(item.content.encode()) > MAX_FILE_BYTES:
            raise AgentOutputError(f"the planner's {name} is over {MAX_FILE_BYTES} bytes")
    total = sum(len(f.content.encode()) for f in plan.files)
    if total > MAX_PLAN_BYTES:
        raise AgentOutputError(f"the plan's files add up to {total:,} bytes, over "
                               f"{MAX_PLAN_BYTES:,}; rejected the plan")
    _check_steps(plan, set(names), where)
    return plan


def _check_steps(plan: PlanOutput, names: set[str], where: str) -> None:
    missing = [c for c in CONTRACT_FILES if c not in names]
    if missing:
        raise AgentOutputError(f"the plan lacks {', '.join(missing)} in {where}/")
    if not plan.steps:
        raise AgentOutputError("the plan has no steps")
    seen: set[int] = set()
    for step in plan.steps:
        found = STEP_FILE.fullmatch(step.file)
        if found is None or int(found.group(1)) != step.index or step.file not in names:
            raise AgentOutputError(f"plan step {step.index} names the file {step.file!r}; it "
                                   "must be NN-short-name.md with NN = the step's index, "
                                   "and be among the proposed files")
        if step.index in seen:
            raise AgentOutputError(f"the plan has two steps numbered {step.index}")
        seen.add(step.index)
    try:
        graph.resolve(sorted(seen), {s.index: s.depends_on for s in plan.steps})
    except graph.GraphError as exc:
        raise AgentOutputError(f"the plan's dependencies cannot run: {exc}; rejected the "
                               "plan") from exc


def step_records(plan: PlanOutput) -> list[PlannedStep]:
    """The steps as run.planned records them: dependencies explicit (none given = the step
    before), so nothing downstream guesses."""
    steps = sorted(plan.steps, key=lambda s: s.index)
    deps = graph.resolve([s.index for s in steps], {s.index: s.depends_on for s in steps})
    return [PlannedStep(index=s.index, type=StepType(s.type),
                        title=one_line(s.title, TITLE_CHARS), file=s.file,
                        depends_on=deps[s.index]) for s in steps]


def write_plan(worktree: Worktree, snap: RunSnapshot, plan: PlanOutput,
               settings: ProjectSettings, start: str | None = None) -> str | None:
    """Write the files under .protocols/NNNN-name/ and commit them on the run's branch."""
    target = contract.safe_folder(worktree.path, folder(snap))
    for item in plan.files:
        contract.write_file(target / item.path, item.content)
    run = snap.run
    message = f"feat(protocol): add plan for {run.id} [protocol-{run.number:04d}/00]"
    return changes.commit(worktree, message, settings, start,
                          changes.retry_hint(worktree, run.id, None))


def _record(tx: Tx, snap: RunSnapshot, job: Job, call: agents.AgentCall, plan: PlanOutput,
            commit: str | None, settings: ProjectSettings) -> None:
    """The finishing commit: transcript, run.planned with the steps, maybe the first step."""
    uid = snap.run.uid
    if tx.run(uid).run.cancelled:
        return
    agents.save_transcript(tx, snap, settings, f"plan-{job.id}", call)
    tx.emit(RunPlanned(commit=commit, summary=agents.line(plan.summary, settings),
                       steps=step_records(plan), parallel=settings.plan.parallel,
                       **call.figures().fields()), run=uid)


class PlanHandler:
    """JobKind.PLAN."""

    def __init__(self) -> None:
        self.failed = agents.FailedTranscripts()

    def run(self, project: Project, job: Job, worker: str) -> Callable[[Tx], None] | None:
        view = project.view()
        snap = view.run(job.run or "")
        if snap is None or snap.run.planned or snap.run.cancelled:
            return None
        settings = project.settings(view)
        # This clone's worktree at the recorded work (made now when `dflow new` deferred it,
        # or when the run was created on another machine): decision 1501.
        snap = placement.prepare(project, snap)
        prompt = variants.render(project.root, snap, settings, "plan", {
            "protocol": snap.run.id, "folder": folder(snap), "task": snap.run.task,
            "branch": snap.run.branch, "base": snap.run.base, "worktree": snap.run.worktree,
            "parallel": PARALLEL_NOTE if settings.plan.parallel else SERIAL_NOTE,
        })
        worktree = agents.worktree_of(project, snap)
        changes.prepare(worktree, job, snap.run.id)
        begin = changes.head(worktree)
        call: agents.AgentCall | None = None
        try:
            call = agents.invoke(project.parts, snap, settings, "plan", prompt,
                                 schema_for("plan"), job)
            plan = parse_plan(call.result.output, snap)
        except EngineError as exc:
            self.failed.keep(job.id, exc, call)
            raise
        commit = write_plan(worktree, snap, plan, settings, begin)
        ancestry.check_on_branch(project.root, commit, snap.run.branch, "plan")
        return lambda tx: _record(tx, snap, job, call, plan, commit, settings)

    def on_failure(self, tx: Tx, job: Job, error: str, final: bool) -> None:
        if job.run is None or tx.run(job.run).run.planned:
            return
        self.failed.save(tx, job.id, job.run, f"plan-{job.id}-failed-{job.attempts}")
        tx.emit(RunPlanFailed(reason=error, final=final), run=job.run)
