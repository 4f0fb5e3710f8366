"""What `dflow serve` and `dflow mcp` do for each request: the CLI's own service calls,
answered with the models the CLI's `--json` prints. No HTTP and no MCP here, so both faces
share one list of what may be done from outside the terminal.

Each call opens the project afresh (a `Project` per request, as each CLI command opens one):
the server holds no state of its own, the state ref is the one source of truth, and no pygit2
handle is shared between the server's threads. There is deliberately no `trust` or `config`
operation: settings and trust change only in a terminal (decision 1582).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from ..ci import pr
from ..context.project import Project
from ..domain.agents.redaction import redact, secret_values, strip_controls
from ..domain.runs.models import Job
from ..errors import DflowError, RunNotFound, StepNotFound, UsageError
from ..observe import report
from ..observe.report import Report
from ..projects import onboarding, overview, registry
from ..projects.answers import QaPolicy
from ..projects.detect import CiProvider
from ..projects.onboarding import AddResult, SetupEvent
from ..projects.overview import ProjectSummary
from ..projects.registry import ProjectNotRegistered
from ..wiring import Wiring
from ..workflow.delivery import diffs, landing
from ..workflow.delivery.diffs import Diff
from ..workflow.delivery.landing import LandResult
from ..workflow.lifecycle import controls, detail, facts, runs
from ..workflow.lifecycle.detail import RunDetail
from ..workflow.lifecycle.runs import RunLine, StatusReport

RunVerb = Literal["plan", "run", "pause", "resume", "cancel", "land", "pr"]
StepVerb = Literal["qa", "approve", "retry"]
RUN_VERBS: tuple[str, ...] = ("plan", "run", "pause", "resume", "cancel", "land", "pr")
STEP_VERBS: tuple[str, ...] = ("qa", "approve", "retry")
NAME_MAX = 100  # a run's name becomes a branch name; dflow's own slugs are far shorter
TASK_MAX = 20_000


class NewRun(BaseModel):
    """`POST /api/runs`: what `dflow new NAME --task TASK [--engine E] [--no-plan]` takes."""

    name: str = Field(min_length=1, max_length=NAME_MAX)
    task: str = Field(min_length=1, max_length=TASK_MAX)
    engine: str | None = Field(default=None, max_length=100)
    plan: bool = Field(default=True, description="false: record the run without planning")


class NewProject(BaseModel):
    """`POST /api/projects`: what `dflow projects add SOURCE` takes, and the answers `dflow
    init` asks (they apply to a project set up now; an existing state keeps its settings)."""

    source: str = Field(min_length=1, max_length=4_096, pattern=r"^[^-\s]",
                        description="a repository's path, or a git URL to clone")
    name: str | None = Field(default=None, max_length=100)
    base: str | None = Field(default=None, max_length=200)
    engine: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=200)
    ci: CiProvider | None = None
    qa_policy: QaPolicy | None = None
    ci_template: bool = Field(default=False, description="also write the CI workflow")


class Options(BaseModel):
    """An action's options, as the CLI's flags: `--engine`/`--model` for plan, run and retry,
    `--strategy` for land, `--reason` for cancel."""

    engine: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=200)
    strategy: Literal["merge", "squash", "rebase"] = "merge"
    reason: str = Field(default="", max_length=2_000)


class Acted(BaseModel):
    """What an action did: the run's status line after it (as `--json` prints for pause,
    resume, cancel and approve), the jobs it requested (as `--json` prints for plan, run, qa
    and retry), and what landing or a PR produced."""

    run: RunLine
    jobs: list[Job] = Field(default_factory=list)
    landed: LandResult | None = None
    pr_url: str | None = None


class StepLog(BaseModel):
    """`dflow logs RUN STEP`: one transcript as stored on the state ref (redacted there)."""

    name: str
    text: str


Opener = Callable[[str | None], Project]


class Face:
    """Opens the project a request names: the one `dflow serve` was started in, or with
    `--all-projects` any registered project by its name."""

    def __init__(self, root: Path, all_projects: bool = False) -> None:
        self.root = root
        self.all_projects = all_projects

    def project(self, name: str | None = None) -> Project:

        if name is None:
            return Wiring().open_project(self.root)
        if not self.all_projects:
            raise UsageError("this server serves one project; start it with `dflow serve "
                             "--all-projects` to choose a project by name")

        entry = registry.load().projects.get(name)
        if entry is None:
            raise registry.ProjectNotRegistered(
                f"no registered project named '{name}'; GET /api/projects lists them")
        return Wiring().open_project(entry.path)


# --- reads ----------------------------------------------------------------------------------


def list_runs(project: Project) -> StatusReport:
    """`dflow status --json`: the runs' excerpts (reads/excerpts.py, decision 1602)."""
    from ..reads import listing  # why: start-up

    return listing.status_report(project)


def show_run(project: Project, run: str) -> RunDetail:
    """`dflow show RUN --json`."""

    return detail.show(project, run)


def diff(project: Project, run: str, step: int | None = None, stat: bool = False) -> Diff:
    """`dflow diff RUN [STEP] [--stat] --json`."""

    snap = project.view().find_run(run)
    return diffs.diff(project, snap, step, patch=not stat)


def step_log(project: Project, run: str, step: int | None, qa: bool = False,
             attempt: int | None = None) -> StepLog:
    """`dflow logs RUN [STEP] [--qa] [--attempt N]`."""

    view = project.view()
    snap = view.find_run(run)
    found = facts.pick(facts.transcripts(snap, view.artifact_names(snap.run.uid)), step, qa,
                       attempt)
    text = view.artifact(snap.run.uid, found.name) or b""
    return StepLog(name=found.name, text=text.decode("utf-8", errors="replace"))


def projects() -> list[ProjectSummary]:
    """`dflow projects --json`."""

    return overview.summaries(Wiring())


def metrics(project: Project, by: str = "model") -> Report:
    """`dflow report --json`: the report's figures."""

    return report.for_project(project, by)


# --- actions --------------------------------------------------------------------------------


def add_project(new: NewProject, sink: Callable[[SetupEvent], None]) -> AddResult:
    """`dflow projects add SOURCE [--name] [--base] [--engine] [--ci]`: clone (a URL), init,
    CI template, each step told to `sink` as it starts and ends."""

    return onboarding.add(Wiring(), new.source, name=new.name, ci_template=new.ci_template,
                          sink=sink, base=new.base, engine=new.engine, model=new.model,
                          ci=new.ci, qa_policy=new.qa_policy)


def create(project: Project, new: NewRun) -> RunLine:
    """`dflow new NAME --task TASK [--engine E] [--no-plan] --json`."""

    snap = runs.create_run(project, new.name, new.task, engine=new.engine, plan=new.plan)
    return runs.run_line(snap, project.settings())


def act(project: Project, run: str, verb: str, options: Options | None = None) -> Acted:
    """`dflow plan|run|pause|resume|cancel|land|pr RUN`: the jobs are requested, never run
    here; a `dflow worker` (or `dflow run --wait`) does them (decision 1581)."""

    o = options or Options()
    jobs: list[Job] = []
    landed: LandResult | None = None
    url: str | None = None
    if verb == "plan":
        controls.set_engine(project, run, o.engine, o.model)
        jobs = [controls.request_plan(project, run)]
    elif verb == "run":
        controls.set_engine(project, run, o.engine, o.model)
        jobs = controls.request_next(project, run, None)
    elif verb == "pause":
        controls.pause(project, run)
    elif verb == "resume":
        controls.resume(project, run)
    elif verb == "cancel":
        controls.cancel(project, run, o.reason or "cancelled over dflow's API")
    elif verb == "land":
        landed = landing.land(project, run, o.strategy)
    elif verb == "pr":
        url = pr.open_pr(project, run) or None
    else:
        raise UsageError(f"no action '{verb}'; use one of {', '.join(RUN_VERBS)}")
    return Acted(run=_line(project, run), jobs=jobs, landed=landed, pr_url=url)


def act_on_step(project: Project, run: str, step: int, verb: str,
                options: Options | None = None) -> Acted:
    """`dflow qa RUN STEP`, `dflow step approve RUN STEP`, `dflow step retry RUN STEP`."""

    o = options or Options()
    jobs: list[Job] = []
    if verb == "qa":
        jobs = controls.request_qa(project, run, step)
    elif verb == "approve":
        controls.approve_step(project, run, step)
    elif verb == "retry":
        jobs = controls.retry_step(project, run, step, False, o.engine, o.model)
    else:
        raise UsageError(f"no step action '{verb}'; use one of {', '.join(STEP_VERBS)}")
    return Acted(run=_line(project, run), jobs=jobs)


def _line(project: Project, run: str) -> RunLine:

    view = project.view()
    return runs.run_line(view.find_run(run), project.settings(view))


# --- errors ---------------------------------------------------------------------------------


def http_status(exc: DflowError) -> int:
    """The HTTP status of a refusal: 404 for what does not exist, 400 for a request that is
    wrong whatever the state, 409 for what the run's state refuses now."""

    if isinstance(exc, RunNotFound | StepNotFound | ProjectNotRegistered):
        return 404
    if isinstance(exc, UsageError):
        return 400
    return 409


def error_text(exc: DflowError, project: Project | None = None) -> str:
    """dflow's one sentence, with no secret and no control character (as the CLI prints it)."""
    names: list[str] = []
    if project is not None:
        try:
            names = list(project.settings().secret_env_names())
        except DflowError:
            names = []
    return strip_controls(redact(str(exc), secret_values(names)))
