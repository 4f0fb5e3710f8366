"""What the composition root (`deksdenflow/house.py`) hands every service through the project.

Services depend on these protocols, never on the root itself: the root imports every floor,
so a service importing it would close a cycle (tests/test_floors.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from datetime import datetime

    from ..domain.agents.engine import Engine
    from ..domain.config.settings import EngineConfig, ProjectSettings
    from ..domain.runs.models import Job, JobKind
    from ..store import Tx
    from .project import Project


class JobHandler(Protocol):
    """What a job kind does. `run` does the (long) work outside the state lock and returns a
    hook that records its results in the commit that finishes the job. `on_failure` records
    what a failed attempt means for the run, in the commit that records the failure.
    A handler may also have `on_claim(project, tx, job)`: what it records in the commit that
    claims the job (the execute handler's step.started; jobs/runner.py `on_claim`)."""

    def run(self, project: Project, job: Job, worker: str) -> Callable[[Tx], None] | None: ...

    def on_failure(self, tx: Tx, job: Job, error: str, final: bool) -> None: ...


class SharedClaimer(Protocol):
    """How a worker claims when the project's state is shared through a remote: through the
    remote, so two clones never both run one job (sync/leases.py `SharedClaims`)."""

    def lease_until(self) -> datetime:
        """Until when a claim made now holds unless renewed (other clones judge by it)."""
        ...

    def claim(self, pick: Callable[[list[Job]], list[Job]],
              record: Callable[[set[str]], list[Job]]) -> list[Job] | None:
        """Bring the remote's state in, `pick` from the jobs that may be tried (requested
        ones, and other machines' claims whose lease ran out), win them on the remote and
        `record` the claims of those won (by id); the jobs claimed, or None when the remote
        is out of reach (then the worker claims locally, as offline)."""
        ...

    def take_over(self, tx: Tx, jobs: list[Job], won: set[str]) -> None:
        """In `record`'s transaction, first: a lost attempt for each won job whose dead claim
        the state still shows."""
        ...

    def closed(self, jobs: list[Job]) -> None:
        """The jobs' closing commit is on the ref: share it and give their claims back."""
        ...

    def stop(self) -> None:
        """The worker stops: no more lease renewals."""
        ...


class Parts(Protocol):
    """The wiring a service may use: built once by the composition root, lazily."""

    def reconcile(self, tx: Tx, settings: ProjectSettings, every_run: bool) -> None:
        """After every transaction: what each touched run needs now (decision 0800)."""
        ...

    def published(self, project: Project, tx: Tx) -> None:
        """After a transaction's commit is on the ref: deliver what it recorded for the
        outside (budget alerts to `alerts.command`, decision 1224)."""
        ...

    def notify(self, project: Project, runs: list[str] | None, quiet: bool = False) -> None:
        """After a commit is on the ref: tell a person what the runs `runs` (None: every
        run, after a commit another clone built) need, once per state (decision 1590);
        `quiet`: only note the states as told (a fresh clone's, or a CI checkout's, first)."""
        ...

    def handler(self, kind: JobKind) -> JobHandler | None:
        """The handler of a job kind; None when this dflow has none."""
        ...

    def claim_number(self, project: Project) -> int:
        """A protocol number claimed on the remote, or 0 to number locally (decision 0401)."""
        ...

    def shared_claims(self, project: Project, worker: str,
                      holds: Callable[[str], bool] | None) -> SharedClaimer | None:
        """How `worker` claims when the project's state is shared through its remote (through
        the remote: decision 1520); None when it is not shared (a local claim is enough).
        `holds(job_id)`: does this worker hold the job's lock (jobs/liveness.py)?"""
        ...

    def engine(self, name: str, config: EngineConfig) -> Engine:
        """The engine called `name`, built from its config (EngineNotFound when unknown)."""
        ...

    def engine_kinds(self) -> list[str]:
        """The engine kinds this dflow knows: the built-ins and the plug-ins."""
        ...

    def undo_killed_creations(self, project: Project) -> list[str]:
        """Remove what a killed `dflow new` made and never recorded (decision 0831); the
        branches removed. The pool calls it between jobs."""
        ...

    def check_push(self, project: Project, base: str, tip: str, what: str) -> None:
        """The secret push check of `pr` and `land` over the commits `base..tip`
        (workflow/delivery/push_check.py): CommitRefused naming the files, before anything leaves
        the machine. Sync runs it on the work it publishes (decision 1500)."""
        ...

    def note(self, text: str) -> None:
        """Tell the user something that is not an error (offline, numbering locally): the CLI
        prints it on stderr, the console shows a notification. Services never print."""
        ...

    def open_project(self, path: Any = ".", **flags: Any) -> Project:
        """Another project (the pool serves several), wired the same way."""
        ...
