"""`dflow sync`: fetch the remote's state, merge it into ours, push without force, retry."""

from __future__ import annotations

import random
import time
from collections.abc import Collection
from typing import Any

from pydantic import BaseModel, Field

from ..context import config
from ..context.project import Project
from ..domain.backoff import delay
from ..errors import DflowError, NotInitialized
from ..store.encoding.layout import PROJECT_FILE
from ..store.sharing.integrate import (
    Integration,
    Outcome,
    holds,
    integrate,
    runs_changed,
    set_tracking,
    tracking_tip,
)
from . import completion, seen, setup, transport, work

PUSH_ATTEMPTS = 8
BACKOFF_BASE_S = 0.05
BACKOFF_MAX_S = 2.0


class SyncConflict(DflowError):
    """The remote kept moving faster than we could merge and push."""


class SettingLost(BaseModel):
    """Both clones changed project.toml and the merge kept the other's version of `key`."""

    key: str
    ours: Any = None
    kept: Any = None


class RenumberNote(BaseModel):
    uid: str
    branch: str
    old_id: str
    new_id: str


class SyncReport(BaseModel):
    """What one sync did; `dflow sync --json` prints it."""

    remote: str
    outcome: str = Field(description="up-to-date | adopted | fast-forward | merged | pushed")
    pushed: bool = False
    tip: str | None = None
    attempts: int = 1
    runs_changed: int = 0
    renumbered: list[RenumberNote] = Field(default_factory=list)
    conflicts: list[str] = Field(default_factory=list)
    completed: list[str] = Field(default_factory=list)
    settings_lost: list[SettingLost] = Field(default_factory=list)
    untrusted: list[str] = Field(default_factory=list, description="settings from origin "
                                 "that wait for `dflow trust` on this machine")
    work_published: list[str] = Field(
        default_factory=list, description="work refs pushed before the state (decision 1500)")


def remote_name(project: Project, remote: str | None = None) -> str:
    return remote or project.settings().project.remote


def sync(project: Project, remote: str | None = None, *, push: bool = True,
         attempts: int = PUSH_ATTEMPTS) -> SyncReport:
    """Fetch, merge and push the state ref; a rejected push re-fetches and tries again."""
    store = project.store
    name = remote or _configured_remote(project)
    report = SyncReport(remote=name, outcome=Outcome.UP_TO_DATE.value)
    base = _base_refspec(project, name)
    ours = _project_text(project)
    for attempt in range(1, attempts + 1):
        report.attempts = attempt
        theirs = transport.fetch_state(store, name, base)
        if theirs is not None:
            done = integrate(store, theirs, name)
            _note(report, done)
            if done.outcome == Outcome.ADOPTED:  # a fresh clone: let `git fetch` keep it
                setup.add_fetch_refspec(store, name)
        local = store.tip()
        if local is None:
            raise NotInitialized(
                f"neither this repository nor '{name}' has dflow state; run `dflow init`"
            )
        if not push:
            break
        # The work first: the state names it. Also when the state is already there (it may
        # have been pushed without its work, by hand or by an older dflow).
        _publish_work(project, name, report)
        if local == theirs:
            break
        if transport.push_state(store, name, local):
            set_tracking(store, name, local)
            report.pushed = True
            work.retire(project, name)  # merged runs' work is on the base now
            break
        if attempt == attempts:
            raise SyncConflict(
                f"'{name}' kept changing while we pushed ({attempts} tries); run `dflow sync` again"
            )
        time.sleep(backoff(attempt))
    report.tip = store.tip()
    if PROJECT_FILE in report.conflicts and ours is not None:
        report.settings_lost = _lost(ours, _project_text(project))
    return _settle(project, name, report, push)


def push(project: Project, remote: str | None = None) -> SyncReport:
    """Share what a command changed (the implicit sync after it): while the tip holds what
    this clone last saw of the remote (its tracking ref), push the work of the runs changed
    since then and the state, without fetching first — the push is a compare-and-swap, so a
    remote that moved since refuses it; only then the whole `sync` (fetch, merge, push
    again). docs/decisions/1610-push-before-fetch.md"""
    store = project.store
    name = remote or _configured_remote(project)
    local, there = store.tip(), tracking_tip(store, name)
    if local is None or there is None or not holds(store, there):
        return sync(project, name)  # never synced, or a fetch this clone has not merged
    report = SyncReport(remote=name, outcome=Outcome.UP_TO_DATE.value, tip=local)
    if local == there:
        return _settle(project, name, report, push=True)
    changed = runs_changed(store, there)
    # No ref but the state ref and the branches of the runs this command changed moved since
    # the last sync looked at every run (not even a fetch, whose runs nobody looked at yet):
    # only those runs need the look for a merged branch (decision 1612).
    view = project.view()
    own = {f"refs/heads/{snap.run.branch}" for snap in map(view.run, changed) if snap}
    moved = seen.moved(str(store.git_dir), seen.stamp(str(store.git_dir)))
    looked = moved is not None and moved <= own
    _publish_work(project, name, report, changed)  # the work first (decision 1500)
    if not transport.push_state(store, name, local):
        done = sync(project, name)  # a teammate pushed since we looked: merge, push again
        done.work_published = [*report.work_published, *done.work_published]
        return done
    set_tracking(store, name, local)
    report.pushed = True
    work.retire(project, name, changed)
    return _settle(project, name, report, push=True, uids=changed if looked else None)


def _settle(project: Project, name: str, report: SyncReport, push: bool,
            uids: Collection[str] | None = None) -> SyncReport:
    """What every sync ends with: runs merged into the base recorded (and pushed), the
    settings waiting for trust listed, and — what was fetched being merged now — the key
    that lets the next command skip the implicit sync while no ref moves (sync/seen.py).
    `uids`: only those runs can have been merged since the last look."""
    store = project.store
    common = str(store.git_dir)
    key = seen.stamp(common)
    report.completed = completion.record_merged(project, name, uids)
    if report.completed:
        report.tip = _push_after_completion(project, name, report) if push else store.tip()
    report.untrusted = sorted(project.settings().untrusted())
    if seen.stamp(common) == key:
        seen.remember(common, key, store.tip())
    return report


def _push_after_completion(project: Project, name: str, report: SyncReport) -> str | None:
    """Runs found merged were recorded locally after the push: share that too."""
    tip = project.store.tip()
    _publish_work(project, name, report)
    if tip is not None and transport.push_state(project.store, name, tip):
        set_tracking(project.store, name, tip)
    # A rejected push here is harmless: the next sync carries the event.
    return tip


def _publish_work(project: Project, remote: str, report: SyncReport,
                  uids: Collection[str] | None = None) -> None:
    """Every commit the state about to be pushed records (of the runs `uids`, when only
    those changed since the remote had the rest) goes to the remote first, so no shared
    state names a commit the remote lacks (sync/work.py)."""
    for done in work.publish(project, remote, uids):
        if done.ref not in report.work_published:
            report.work_published.append(done.ref)


def _project_text(project: Project) -> str | None:
    return project.view().project_text() if project.store.is_initialized else None


def _lost(ours: str, merged: str | None) -> list[SettingLost]:
    """The settings whose value here lost the three-way merge of project.toml (decision 0973)."""
    if merged is None:
        return []
    return [SettingLost(key=key, ours=mine, kept=kept)
            for key, mine, kept in config.changed_settings(ours, merged)]


def backoff(attempt: int, rng: random.Random | None = None) -> float:
    """Full jitter, bounded: uniform in [0, min(max, base * 2**attempt)] (domain/backoff.py)."""
    return delay(attempt + 1, BACKOFF_BASE_S, BACKOFF_MAX_S, rng)


def _configured_remote(project: Project) -> str:
    if project.store.is_initialized:
        return remote_name(project)
    return "origin"  # a fresh clone: nothing says otherwise yet


def _base_refspec(project: Project, remote: str) -> dict[str, str]:
    """Also fetch the base branch, so a merged run is seen (a missing one is skipped)."""
    if not project.store.is_initialized:
        return {}
    base = project.settings().project.base_branch
    # Every run's published work too, so any clone shows, diffs and lands any run (and knows
    # what the remote already holds: sync/work.py).
    return {f"refs/heads/{base}": f"refs/remotes/{remote}/{base}",
            f"{work.WORK_PREFIX}*": work.tracking(remote, f"{work.WORK_PREFIX}*")}


def _note(report: SyncReport, done: Integration) -> None:
    if done.outcome == Outcome.UP_TO_DATE and report.outcome != Outcome.UP_TO_DATE.value:
        return
    report.outcome = done.outcome.value
    report.runs_changed += len(done.runs_changed)
    report.conflicts += done.conflicts
    report.renumbered += [
        RenumberNote(uid=r.uid, branch=r.branch, old_id=f"{r.old:04d}-{r.name}",
                     new_id=f"{r.new:04d}-{r.name}")
        for r in done.renumbered
    ]
