"""Keeping the console's snapshots current with the state ref: its query API for live state.

The console calls `StateWatcher.poll()` a few times a second. A poll is one ref read; only
when the tip moved does it compare tree ids bucket by bucket and `run.json` blob ids run by
run, so only the runs that changed are parsed again.
See docs/decisions/0501-console-watches-the-ref-tip.md.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..context.project import Project
from ..domain.runs.models import Job, RunSnapshot
from ..store import StateView, peek
from ..store.encoding.layout import OPEN_JOBS_DIR, PROJECT_FILE

REMOTE_EVERY = 5


@dataclass
class Change:
    """What moved between two polls."""

    tip: str | None
    runs: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    jobs: bool = False
    settings: bool = False
    remote: bool = False


class StateWatcher:
    """Holds the snapshots the console shows and keeps them current with the ref."""

    def __init__(self, project: Project, remote_every: int = REMOTE_EVERY) -> None:
        self.store = project.store
        self.remote_every = remote_every
        self.tip: str | None = None
        self.view: StateView | None = None
        self.snapshots: dict[str, RunSnapshot] = {}
        self._index: peek.RunIndex = {}
        self._jobs_id = ""
        self._settings_id = ""
        self._remote_tips: dict[str, str] | None = None
        self._polls = 0

    def poll(self, remote: bool = False) -> Change | None:
        """Re-read what changed since the last poll; None when nothing moved. `remote`: look
        at the remote-tracking state refs now (their files changed), not every few polls."""
        tip = self.store.tip()
        self._polls += 1
        # Listing refs costs more than reading one (a repo with many runs has many
        # branches), and a fetch may take a second to show: look every few polls.
        look = remote or (self._polls - 1) % self.remote_every == 0
        remote = look and self._remote_moved()
        if tip == self.tip and not remote:
            return None
        change = Change(tip=tip, remote=remote)
        if tip != self.tip:
            self._advance(tip, change)
        return change

    def _advance(self, tip: str | None, change: Change) -> None:
        with _collector_paused():  # the first poll reads every run (1,000: ~100 objects each)
            self._read(tip, change)

    def _read(self, tip: str | None, change: Change) -> None:
        self.tip = tip
        view = self.view = self.store.view_at(tip) if tip else None
        old = peek.blob_ids(self._index)
        self._index = peek.run_index(view, self._index)
        new = peek.blob_ids(self._index)
        change.runs = {uid for uid, blob in new.items() if old.get(uid) != blob}
        change.removed = set(old) - set(new)
        for uid in change.removed:
            self.snapshots.pop(uid, None)
        for uid in change.runs:
            self.snapshots[uid] = peek.snapshot_by_id(self.store, uid, new[uid])
        jobs_id, settings_id = peek.entry_id(view, OPEN_JOBS_DIR), peek.entry_id(view, PROJECT_FILE)
        change.jobs, change.settings = jobs_id != self._jobs_id, settings_id != self._settings_id
        self._jobs_id, self._settings_id = jobs_id, settings_id

    def _remote_moved(self) -> bool:
        """Has a `git fetch` brought remote state we do not have yet since the last poll?

        A sync that pushes moves the tracking ref to our own tip: that is not news."""
        tips = peek.tracking_tips(self.store)
        moved = self._remote_tips is not None and tips != self._remote_tips
        self._remote_tips = tips
        return moved and any(tip != self.store.tip() for tip in tips.values())

    # --- what the screens read ------------------------------------------------------------

    def runs(self) -> list[RunSnapshot]:
        return sorted(self.snapshots.values(), key=lambda s: (s.run.number, s.run.uid))

    def run(self, uid: str) -> RunSnapshot | None:
        return self.snapshots.get(uid)

    def open_jobs(self) -> list[Job]:
        return self.view.open_jobs() if self.view is not None else []

    def project_text(self) -> str:
        return self.view.project_text() if self.view is not None else ""


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while snapshots are read: they are all kept, so a pass
    finds nothing, yet with the console's heap the passes 1,000 snapshots set off cost about
    a third of its CPU until the first paint (docs/decisions/1337)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
