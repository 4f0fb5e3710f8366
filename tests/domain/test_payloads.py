"""Every payload model: what an emitter builds is what the store reads back, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from deksdenflow.domain.eventlog.events import Event, EventType
from deksdenflow.domain.eventlog.payloads import PAYLOADS, Figures, RunNote, payload_of
from deksdenflow.store.encoding import codec

# The least data each type needs (its required fields).
MINIMAL: dict[EventType, dict[str, Any]] = {
    EventType.RUN_RENUMBERED: {"number": 3},
    EventType.RUN_INTENT: {"mode": "step"},
    EventType.RUN_ENGINE_CHOSEN: {"engine": "demo"},
    EventType.STEP_QA_VERDICT: {"verdict": "FAIL", "findings": ["no test"]},
    EventType.JOB_REQUESTED: {"kind": "execute", "payload": {"engine": "demo", "own": 1}},
    **{t: {"job": "01J0000000000000000000000A", "worker": "w1"} for t in (
        EventType.JOB_CLAIMED, EventType.JOB_FINISHED, EventType.JOB_FAILED,
        EventType.JOB_RELEASED, EventType.JOB_CANCELLED)},
    EventType.PROJECT_SETUP: {"project": "shop", "step": "init", "status": "done"},
    EventType.STEP_INTEGRATED: {"commit": "0" * 40, "branch": "0001-d.step-02"},
    EventType.STEP_CONFLICTED: {"files": ["a.txt"], "against": [1]},
    EventType.RUN_BUDGET_ALERT: {"scope": "month", "metric": "cost", "period": "2026-01",
                                 "threshold": 0.8, "used": 8.0, "limit": 10.0,
                                 "key": "budget.month.max_cost", "text": "80% of the month"},
}


@pytest.mark.parametrize("kind", list(EventType))
def test_every_payload_round_trips_through_the_store_codec(kind: EventType) -> None:
    data = payload_of(kind, MINIMAL.get(kind))
    event = Event(id="01J0000000000000000000000B", lamport=2, actor="a@h",
                  at=datetime(2026, 1, 1, tzinfo=UTC), run="01J0000000000000000000000C",
                  type=kind, data=data)
    raw = codec.dump(event)
    assert raw.startswith(b'{"schema_version":2,')  # the fast path of what dflow writes
    back = codec.load_event(raw, "events/x.json")
    assert back == event and type(back.data) is PAYLOADS[kind]
    assert codec.dump(back) == raw


def test_a_job_payload_keeps_the_keys_of_a_handler_registered_from_outside() -> None:
    event = Event(id="01J0000000000000000000000B", lamport=2, actor="a@h",
                  at=datetime(2026, 1, 1, tzinfo=UTC), type=EventType.JOB_REQUESTED,
                  data=MINIMAL[EventType.JOB_REQUESTED])
    back = codec.load_event(codec.dump(event), "events/x.json")
    assert back.data.payload.as_dict() == {"engine": "demo", "own": 1}  # type: ignore[union-attr]


def test_figures_pass_into_every_payload_that_records_them() -> None:
    figures = Figures(engine="codex", model="gpt-5", prompt_hash="abc", cost=0.5, duration_s=2)
    note = RunNote(text="fix-CI attempt 1", **figures.fields())
    assert (note.engine, note.model, note.cost, note.duration_s) == ("codex", "gpt-5", 0.5, 2.0)
