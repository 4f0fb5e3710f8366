"""A transaction: events and artifacts staged against one view, then built into one tree."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ..domain.agents.redaction import redact, secret_values, strip_controls
from ..domain.eventlog import fold
from ..domain.eventlog.events import Event, EventType
from ..domain.eventlog.ids import new_id
from ..domain.eventlog.payloads import Payload
from ..domain.runs.models import Job, RunSnapshot
from ..errors import IllegalTransition, RunNotFound, UsageError
from .encoding import codec
from .encoding.layout import (
    META_FILE,
    PROJECT_FILE,
    artifact_path,
    event_path,
    open_job_path,
    run_snapshot_path,
)
from .plumbing.tree import TreeEdit
from .state import StateView

_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"
_ARTIFACT_NAME = re.compile(rf"^{_SEGMENT}(/{_SEGMENT}){{0,3}}$")
CUT_MARKER = "\n\n[... dflow cut {n} bytes to stay under the artifact cap ...]\n\n"


class Tx:
    """What a mutation function receives: the current view plus ways to stage changes.

    Every emitted event is applied at once to a working copy of its run's snapshot, so the
    caller sees the effect (and an illegal transition is refused before it is recorded).
    """

    def __init__(self, view: StateView, actor: str) -> None:
        self.view = view
        self.actor = actor
        self.events: list[Event] = []
        self.clock = view.lamport
        self._runs: dict[str, RunSnapshot] = {}
        self._jobs: dict[str, Job | None] = {}
        self._artifacts: dict[str, bytes] = {}
        self._project_text: str | None = None
        self._secrets: list[str] | None = None
        self._deferred: list[Callable[[Tx], None]] = []
        self.commit: str | None = None  # the commit published, for the `published` hook

    # --- reading through the transaction ---------------------------------------------------

    def run(self, uid: str) -> RunSnapshot:
        snap = self._runs.get(uid)
        if snap is None:
            snap = self.view.run(uid)
            if snap is None:
                raise RunNotFound(f"no protocol run with uid {uid}")
            self._runs[uid] = snap
        return snap

    def find_run(self, ref: str) -> RunSnapshot:
        return self.run(self.view.find_run(ref).run.uid)

    def runs(self) -> list[RunSnapshot]:
        seen = {s.run.uid: s for s in self.view.runs()}
        seen.update(self._runs)
        return sorted(seen.values(), key=lambda s: (s.run.number, s.run.uid))

    def run_names(self) -> dict[str, tuple[int, str]]:
        """uid -> (number, name) of every run as this transaction leaves them, without
        validating every snapshot (`StateView.run_names`)."""
        names = dict(self.view.run_names())
        names.update((uid, (s.run.number, s.run.name)) for uid, s in self._runs.items())
        return names

    def job(self, job_id: str, run_uid: str | None = None) -> Job | None:
        if run_uid is not None:
            return self.run(run_uid).job(job_id)
        if job_id not in self._jobs:
            self._jobs[job_id] = self.view.open_job(job_id)
        return self._jobs[job_id]

    def staged_jobs(self) -> dict[str, Job]:
        """Jobs as this transaction leaves them (those it read or touched), by id: what a
        claim in the same commit must see (a job just finished, its successor just requested)."""
        staged: dict[str, Job] = {}
        for snap in self._runs.values():
            staged.update((j.id, j) for j in snap.jobs)
        staged.update((job_id, job) for job_id, job in self._jobs.items() if job is not None)
        return staged

    # --- staging -----------------------------------------------------------------------------

    def emit(
        self,
        payload: Payload,
        *,
        run: str | None = None,
        step: int | None = None,
        strict: bool = True,
        actor: str | None = None,
    ) -> Event:
        """Record one event, its type that of `payload`; with `strict`, an event the state
        machine rejects raises IllegalTransition."""
        self.clock += 1
        event_id = new_id()
        if payload.TYPE == EventType.RUN_CREATED:
            run = event_id
        event = Event(
            id=event_id,
            lamport=self.clock,
            actor=actor or self.actor,
            at=datetime.now(UTC),
            run=run,
            step=step,
            type=payload.TYPE,
            data=self.scrub(payload.model_dump(mode="json")),
        )
        if run is not None:
            self._apply_to_run(event, strict)
        elif payload.TYPE != EventType.PROJECT_SETUP:  # a project fact: nothing to fold
            self._apply_to_job(event)
        self.events.append(event)
        return event

    def put_artifact(self, run_uid: str, name: str, data: bytes, cap: int | None = None) -> str:
        """Stage a blob under the run; larger than `cap` keeps its head and tail."""
        if not _ARTIFACT_NAME.match(name):
            raise UsageError(f"artifact name '{name}' must be plain path segments")
        limit = cap if cap is not None else self.view.settings().artifacts.max_bytes
        text = self.scrub(data.decode("utf-8", errors="replace"))
        self._artifacts[artifact_path(run_uid, name)] = cap_bytes(text.encode(), limit)
        return name

    def scrub(self, value: Any) -> Any:
        """The one redaction pass on the way into the ref: every string in event data and every
        artifact has secrets masked and terminal control sequences removed
        (docs/decisions/0700-one-redaction-pass-at-the-store.md)."""
        if isinstance(value, str):
            if self._secrets is None:
                self._secrets = secret_values(self.view.settings().secret_env_names())
            return strip_controls(redact(value, self._secrets))
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub(v) for v in value]
        return value

    def defer(self, hook: Callable[[Tx], None]) -> None:
        """Run `hook(tx)` at the end of this transaction, after the reconciler has staged what
        the changes so far call for (a claim of the job it just requested, say)."""
        self._deferred.append(hook)

    def run_deferred(self) -> bool:
        """Run the deferred hooks (the store calls this); True when they staged events."""
        before = len(self.events)
        hooks, self._deferred = self._deferred, []
        for hook in hooks:
            hook(self)
        return len(self.events) != before

    def set_project_text(self, text: str) -> None:
        codec.load_settings(text, PROJECT_FILE)  # never write settings we cannot read back
        self._project_text = text

    @property
    def staged_project_text(self) -> str | None:
        """The project.toml this transaction writes, if it writes one."""
        return self._project_text

    @property
    def has_changes(self) -> bool:
        return bool(self.events or self._artifacts or self._project_text is not None)

    # --- applying ----------------------------------------------------------------------------

    def _apply_to_run(self, event: Event, strict: bool) -> None:
        assert event.run is not None
        if event.type == EventType.RUN_CREATED:
            created = fold.fold([event])
            assert created is not None
            self._runs[event.run] = created
            return
        snap = self.run(event.run)
        if not strict:
            fold.apply(snap, event)
            return
        reason = fold.apply_strict(snap, event)
        if reason is not None:
            self.clock -= 1
            raise IllegalTransition(f"{snap.run.id}: {reason}")

    def _apply_to_job(self, event: Event) -> None:
        job_id = fold.job_id(event)
        try:
            self._jobs[job_id] = fold.apply_job(self.job(job_id), event)
        except fold.NotApplicable as exc:
            self.clock -= 1
            raise IllegalTransition(str(exc)) from exc

    def build(self, edit: TreeEdit) -> None:
        """Write everything staged into `edit` (blobs first; the caller writes trees)."""
        for event in self.events:
            edit.put(event_path(event.run, event.id), codec.dump(event))
        for uid, snap in self._runs.items():
            if not any(e.run == uid for e in self.events):
                continue
            edit.put(run_snapshot_path(uid), codec.dump(snap))
            old = self.view.run(uid)
            old_open = {j.id for j in old.open_jobs} if old else set()
            for job in snap.jobs:
                if job.is_open:
                    edit.put(open_job_path(job.id), codec.dump_job(job))
            for job_id in old_open - {j.id for j in snap.open_jobs}:
                edit.delete(open_job_path(job_id))
        for job_id, staged in self._jobs.items():
            if staged is None:
                continue
            if staged.is_open:
                edit.put(open_job_path(job_id), codec.dump_job(staged))
            elif self.view.open_job(job_id) is not None:
                edit.delete(open_job_path(job_id))
        for path, data in self._artifacts.items():
            edit.put(path, data)
        if self._project_text is not None:
            edit.put(PROJECT_FILE, self._project_text.encode())
        if self.events:
            edit.put(META_FILE, codec.dump_meta(self.clock))

    def summary(self) -> str:
        """A one-line commit subject naming what changed."""
        if not self.events:
            return "dflow: update settings" if self._project_text is not None else "dflow: update"
        first = self.events[0]
        where = ""
        if first.run is not None:
            snap = self._runs.get(first.run)
            where = f" {snap.run.id}" if snap is not None else ""
            if first.step is not None:
                where += f"/{first.step:02d}"
        more = f" (+{len(self.events) - 1} more)" if len(self.events) > 1 else ""
        return f"dflow: {first.type.value}{where}{more}"


def cap_bytes(data: bytes, limit: int) -> bytes:
    if len(data) <= limit:
        return data
    marker = CUT_MARKER.format(n=len(data) - limit).encode()
    keep = max(0, limit - len(marker))
    head = keep * 3 // 4
    return data[:head] + marker + data[len(data) - (keep - head) :]
