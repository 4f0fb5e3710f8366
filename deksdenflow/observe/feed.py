"""The events that appeared on the state ref since the last look: what `dflow serve`'s event
stream sends. A look is one ref read; only when the tip moved does it compare the runs' tree
ids, and only the runs whose tree moved have their events read (before and after), so a new
event is told apart from an old one by its id, whichever process or clone wrote it.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from ..context.project import Project
from ..domain.eventlog.events import Event, ordered
from ..store import StateView

SUMMARY_KEYS = ("kind", "verdict", "status", "reason", "text", "summary", "url", "name")
SUMMARY_MAX = 200


class FeedEvent(BaseModel):
    """One event as the stream sends it: which run (id and uid), step, type and a summary."""

    id: str
    at: datetime
    run: str | None
    uid: str | None
    step: int | None
    type: str
    actor: str
    summary: str


class EventFeed:
    """Follows one project's state ref; `new_events()` returns what appeared since."""

    def __init__(self, project: Project) -> None:
        self.store = project.store
        self.tip = self.store.tip()
        self.view: StateView | None = self.store.view_at(self.tip) if self.tip else None
        self.versions = self.view.run_versions() if self.view is not None else {}

    def new_events(self) -> list[FeedEvent]:
        tip = self.store.tip()
        if tip == self.tip:
            return []
        view = self.store.view_at(tip) if tip else None
        versions = view.run_versions() if view is not None else {}
        found: list[Event] = []
        names: dict[str, str] = {}
        for uid, version in versions.items():
            if view is None or self.versions.get(uid) == version:
                continue
            before: set[str] = set()
            if self.view is not None and uid in self.versions:
                before = {e.id for e in self.view.run_events(uid)}
            found.extend(e for e in view.run_events(uid) if e.id not in before)
            snap = view.run(uid)
            names[uid] = snap.run.id if snap is not None else uid
        self.tip, self.view, self.versions = tip, view, versions
        return [_fed(e, names) for e in ordered(found)]


def _fed(event: Event, names: dict[str, str]) -> FeedEvent:
    return FeedEvent(id=event.id, at=event.at, run=names.get(event.run or "") if event.run
                     else None, uid=event.run, step=event.step, type=event.type.value,
                     actor=event.actor, summary=summary(event))


def summary(event: Event) -> str:
    """The facts worth a glance, on one line (as `dflow events` prints them)."""
    data = event.data.model_dump(mode="json")
    parts = [f"{k}={data[k]}" for k in SUMMARY_KEYS if data.get(k) not in (None, "")]
    text = " ".join(" ".join(str(p).split()) for p in parts)
    return text if len(text) <= SUMMARY_MAX else text[:SUMMARY_MAX - 3] + "..."
