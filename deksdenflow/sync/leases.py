"""Claims through the remote a state is shared on: remote workers (`dflow worker --remote`)
and, when the project's state is shared through its remote, every local pool too.

A claim is first a claim ref pushed to the remote (`sync/claim_refs.py`): git creates a ref
only once, so exactly one worker of all clones gets it. Only then does the winner record
`job.claimed` (with `lease_until`) on a state fetched *after* it took the ref, and push it;
so every earlier claim of the job is in what it builds on and the fold can never prefer
another clone's claim. While the job runs the holder moves its token's lease forward; once
the job's closing state is pushed the ref is deleted. A ref whose lease ran out (or whose
holder was a worker of this clone that died) is taken over by compare-and-swap, and the
old claim counts as a lost attempt (retried with backoff, up to `retry.max_lost`).
Offline, a local pool claims locally (docs/decisions/1520-one-job-one-worker.md).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from ..context.parts import JobHandler
from ..context.project import Project
from ..domain.config.settings import RetrySection
from ..domain.runs.models import Job, JobKind, JobStatus
from ..errors import DflowError, IllegalTransition
from ..jobs import queue, runner
from ..jobs.claims import claim_batch, open_in, trust_hold
from ..jobs.liveness import JobLocks, is_local_worker
from ..store import Tx
from ..store.encoding.open_jobs import OpenJobs
from ..store.sharing.integrate import tracking_tip
from . import claim_refs, service, transport

REMOTE_POLL_S = 5.0  # an idle worker fetches the remote's state at most this often
CLAIM_TRIES = 5
BURST_MAX_WAIT_S = 600.0  # a backoff longer than this is left to the next burst
RENEW_MIN_S = 1.0


class LeaseClaims:
    """The ClaimStrategy of a worker without a local lock: a lease in the claim."""

    def __init__(self, lease_s: float) -> None:
        self.lease_s = lease_s

    def hold(self, job: Job) -> bool:
        return True

    def lease_until(self, job: Job) -> datetime | None:
        return datetime.now(UTC) + timedelta(seconds=self.lease_s)

    def let_go(self, job: Job) -> None:
        return None


def is_shared(project: Project) -> bool:
    """Is this project's state shared through its remote? (`project.sync = auto`, the remote
    exists, and the state has been fetched from or pushed to it: its tracking ref is set.)"""
    store = project.store
    if not store.is_initialized:
        return False
    settings = project.settings().project
    return (settings.sync == "auto" and settings.remote in store.remote_names()
            and tracking_tip(store, settings.remote) is not None)


class SharedClaims:
    """How one worker claims through the remote (the jobs.claims.SharedClaimer protocol)."""

    def __init__(self, project: Project, remote: str, worker: str, lease_s: float,
                 holds: Callable[[str], bool] | None = None, renew: bool = True) -> None:
        self.project, self.remote, self.worker = project, remote, worker
        self.lease_s = lease_s
        self.renews = renew  # move the lease forward while the job runs (a worker does)
        self.holds = holds  # does this worker hold a job's local lock? (a pool worker)
        self.tokens: dict[str, str] = {}  # job id -> the token our claim ref points at
        self.pushes = 0  # git pushes made (state and refs): the benchmark counts them
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._fetched = float("-inf")
        self._idle = False
        self.cache = OpenJobs()
        self.unreachable = ""  # why the last claim could not reach the remote
        self.policy = project.settings().retry

    def lease_until(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.lease_s)

    # --- claiming ---------------------------------------------------------------------------

    def claim(self, pick: Callable[[list[Job]], list[Job]],
              record: Callable[[set[str]], list[Job]]) -> list[Job] | None:
        """Fetch the remote's state, `pick` the jobs to try, take their claim refs, fetch
        again and `record` the claims of the jobs whose ref we got, then push them. None:
        the remote cannot be reached (the caller claims locally)."""
        try:
            self._refresh()
            tried = pick(candidates(self.project, self.cache.of(self.project.store.read())))
            if not tried:
                self._idle = True
                return []
            self._idle = False
            won = self._take(tried)
            if not won:
                return []
            service.sync(self.project, self.remote, push=False)
            claimed = record(won)
            self._drop(won - {j.id for j in claimed})
            if claimed:
                self._push_state()
                if self.renews:
                    self._start_renewing()
            return claimed
        except transport.RemoteUnreachable as exc:
            self.unreachable = str(exc)
            return None

    def _refresh(self) -> None:
        """Merge the remote's state and push ours; while idle, at most every REMOTE_POLL_S."""
        if self._idle and time.monotonic() - self._fetched < REMOTE_POLL_S:
            return
        self._fetched = time.monotonic()
        self.pushes += int(service.sync(self.project, self.remote).pushed)

    def _take(self, jobs: list[Job]) -> set[str]:
        store = self.project.store
        tokens = {j.id: claim_refs.token(store, j.id, self.worker, self.lease_until())
                  for j in jobs}
        self.pushes += 1
        won = claim_refs.push(store, self.remote, {j: (t, None) for j, t in tokens.items()})
        for job in jobs:
            if job.id not in won and self._take_over(job, tokens[job.id]):
                won.add(job.id)
        with self._guard:
            self.tokens.update({j: tokens[j] for j in won})
        return won

    def _take_over(self, job: Job, token: str) -> bool:
        """The job's ref exists: replace it (compare-and-swap) when its claim is dead."""
        store = self.project.store
        held = claim_refs.holder(store, self.remote, job.id)
        if held is None or held.worker == self.worker or not self._is_dead(job, held):
            return False
        self.pushes += 1
        return job.id in claim_refs.push(store, self.remote, {job.id: (token, held.token)})

    def _is_dead(self, job: Job, held: claim_refs.Holder) -> bool:
        if held.expired(datetime.now(UTC)):
            return True
        if not is_local_worker(held.worker, self.project.store):
            return False
        # A worker of this clone holds the job's lock while it runs the job (jobs/liveness.py).
        if self.holds is not None and self.holds(job.id):
            return True
        return JobLocks(self.project.store).is_free(job.id)

    def take_over(self, tx: Tx, jobs: list[Job], won: set[str]) -> None:
        take_over_in(self.project, tx, jobs, won, self.policy)

    # --- closing ----------------------------------------------------------------------------

    def closed(self, jobs: list[Job]) -> None:
        """The jobs' closing commit is made: push it, then give their claim refs back."""
        ours = [j.id for j in jobs if j.id in self.tokens]
        if not ours:
            return
        try:
            self._push_state()
            self._drop(set(ours))
        except DflowError as exc:  # offline, or the remote kept moving: not the job's fault
            self.project.parts.note(f"{exc}; the results are kept locally and shared by the "
                                    "next sync (their claims on the remote run out)")

    def _push_state(self) -> None:
        self.pushes += int(service.sync(self.project, self.remote).pushed)

    def _drop(self, job_ids: set[str]) -> None:
        with self._guard:
            gone = {j: self.tokens.pop(j) for j in job_ids if j in self.tokens}
        if gone:
            self.pushes += 1
            claim_refs.push(self.project.store, self.remote,
                            {j: ("", token) for j, token in gone.items()})

    # --- the lease moves forward while the job runs ----------------------------------------

    def _start_renewing(self) -> None:
        if self._renewer is None or not self._renewer.is_alive():
            self._renewer = threading.Thread(target=self._renew_loop, name="dflow-lease",
                                             daemon=True)
            self._renewer.start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(max(self.lease_s / 3, RENEW_MIN_S)):
            with self._guard:
                if not self.tokens:
                    return
            with contextlib.suppress(DflowError):
                self.renew()

    def renew(self, held: dict[str, str] | None = None) -> set[str]:
        """Move the lease of each held claim ref forward; the job ids renewed. Under the
        guard throughout, so a close never deletes with a token a renewal just replaced."""
        store = self.project.store
        with self._guard:
            held = dict(self.tokens) if held is None else held
            fresh = {j: claim_refs.token(store, j, self.worker, self.lease_until()) for j in held}
            self.pushes += 1
            done = claim_refs.push(store, self.remote, {j: (fresh[j], held[j]) for j in held})
            for job_id in done:
                if self.tokens.get(job_id) == held[job_id]:
                    self.tokens[job_id] = fresh[job_id]
        return done

    def stop(self) -> None:
        self._stop.set()


def take_over_in(project: Project, tx: Tx, jobs: list[Job], won: set[str],
                 policy: RetrySection) -> None:
    """For each job whose ref we took from a dead claim the state still shows, count the
    lost attempt first (an infrastructure loss, not an agent failure; decision 0801)."""
    for job in jobs:
        if job.id not in won or job.status != JobStatus.CLAIMED:
            continue
        until = job.lease_until.isoformat() if job.lease_until else "its worker died"
        error = f"the lease of {job.claimed_by} ran out ({until})"
        _record_lost(project, tx, job, error, policy)


class RemoteOutcome(BaseModel):
    job: str
    kind: str
    ok: bool
    error: str = ""


def _record_lost(project: Project, tx: Tx, job: Job, error: str, policy: RetrySection) -> None:
    handler = project.parts.handler(job.kind)

    def failed(tx: Tx, final: bool, handler: JobHandler | None = handler) -> None:
        if handler is not None:
            # the worker may have died before the handler recorded its start
            with contextlib.suppress(IllegalTransition):
                handler.on_failure(tx, job, error, final)

    queue.record_failure(tx, job, job.claimed_by or "", error, policy, failed, lost=True)


def candidates(project: Project, jobs: list[Job]) -> list[Job]:
    """What a worker may try to claim through the remote: claims of other machines whose
    lease ran out (their ref decides), then the requested jobs that may start now."""
    now = datetime.now(UTC)
    expired = [j for j in jobs if j.status == JobStatus.CLAIMED and j.lease_until is not None
               and j.lease_until <= now and not is_local_worker(j.claimed_by, project.store)]
    return [*expired, *queue.claimable(jobs, now)]


def claim(project: Project, remote: str, worker: str, *, kinds: set[JobKind] | None = None,
          lease_s: float | None = None, claims: SharedClaims | None = None) -> Job | None:
    """Claim one job through the remote (its claim ref, then the state); None when there is
    nothing to do. A job another machine got first is skipped for the next one."""
    settings = project.settings()
    claims = claims or SharedClaims(project, remote, worker, lease_s or settings.worker.lease_s,
                                    renew=False)
    strategy = LeaseClaims(claims.lease_s)
    cache = OpenJobs()
    tried: set[str] = set()
    picked: list[Job] = []

    def pick(found: list[Job]) -> list[Job]:
        hold = trust_hold(project, project.view())  # jobs this machine may not run
        picked[:] = [j for j in found if j.id not in tried and (not kinds or j.kind in kinds)
                     and not (hold is not None and hold(j))][:1]
        return picked

    def record(won: set[str]) -> list[Job]:
        def body(tx: Tx) -> list[Job]:
            claims.take_over(tx, open_in(tx, cache), won)
            return claim_batch(tx, worker, strategy, open_in(tx, cache), kinds=kinds,
                               limit=1, only=won, held=trust_hold(project, tx.view))
        return project.store.transact(body)

    for _ in range(CLAIM_TRIES):
        picked.clear()
        claimed = claims.claim(pick, record)
        if claimed is None:
            raise transport.RemoteUnreachable(claims.unreachable)
        if claimed:
            return claimed[0]
        if not picked:
            return None
        tried.update(j.id for j in picked)
    return None


def work(project: Project, remote: str, worker: str, *, kinds: set[JobKind] | None = None,
         burst: bool = True, poll_s: float = 10.0,
         sink: Callable[[RemoteOutcome], None] | None = None) -> int:
    """Claim, run and record jobs through the remote until none is left (or forever)."""
    claims = SharedClaims(project, remote, worker, project.settings().worker.lease_s)
    done = 0
    try:
        while True:
            looked = datetime.now(UTC)
            job = claim(project, remote, worker, kinds=kinds, claims=claims)
            if job is None:
                wait = backoff_left(project, kinds, looked) if burst else poll_s
                if wait is None or wait > BURST_MAX_WAIT_S:
                    return done  # --burst: nothing it may take now or after its backoff
                time.sleep(max(wait, 0.05))
                continue
            outcome = run_one(project, remote, job, worker, claims)
            done += 1
            if sink is not None:
                sink(outcome)
    finally:
        claims.stop()


def backoff_left(project: Project, kinds: set[JobKind] | None,
                 looked: datetime) -> float | None:
    """Seconds until the earliest requested job of these kinds is out of its retry backoff
    (a lost lease's retry, say: 0 when that happened since the claim `looked`); None when
    none waits. A `--burst` worker waits that long rather than leave work it could take
    (decision 1503). A job that was claimable when it looked, and not taken, is not waited
    for."""
    now = datetime.now(UTC)
    view = project.view()
    hold = trust_hold(project, view)  # held here: it waits for `dflow trust`, not for time
    waits = [max(0.0, (j.not_before - now).total_seconds()) for j in view.open_jobs()
             if j.status == JobStatus.REQUESTED and j.not_before is not None
             and not (hold is not None and hold(j))
             and j.not_before > looked and (not kinds or j.kind in kinds)]
    return min(waits) if waits else None


def run_one(project: Project, remote: str, job: Job, worker: str,
            claims: SharedClaims | None = None) -> RemoteOutcome:
    attempt = runner.attempt(project, job, worker)
    policy = project.settings().retry
    try:
        project.store.transact(lambda tx: runner.record(
            tx, attempt, worker, policy, project.parts.handler(job.kind)))
    except IllegalTransition as exc:
        # The lease ran out and another worker took the job: our result does not count.
        return RemoteOutcome(job=job.id, kind=job.kind.value, ok=False,
                             error=f"lost the job: {exc}")
    finally:
        if claims is not None:
            claims.closed([job])
    if claims is None:
        service.sync(project, remote)
    return RemoteOutcome(job=job.id, kind=job.kind.value, ok=attempt.ok,
                         error=attempt.error or "")
