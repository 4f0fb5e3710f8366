"""The fold: any delivery order, incremental or full, malformed or late events — one answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from deksdenflow.domain.eventlog import fold
from deksdenflow.domain.eventlog.events import Event, EventType, ordered
from deksdenflow.domain.eventlog.ids import new_id
from deksdenflow.domain.eventlog.payloads import PAYLOADS, RunNote
from deksdenflow.domain.runs.models import RunSnapshot, RunStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)
RUN = new_id(1_700_000_000_000)

# What a run's life is made of: (event type, data) templates drawn per operation. Some are
# legal only in some states; the illegal ones are what a merge of two replicas produces.
STEP_OPS: list[tuple[EventType, dict[str, Any]]] = [
    (EventType.STEP_STARTED, {"engine": "demo", "model": "m"}),
    (EventType.STEP_FINISHED, {"summary": "done", "usage": {"input_tokens": 10}, "cost": 0.5}),
    (EventType.STEP_FINISHED, {"next": "completed", "duration_s": 1.5}),
    (EventType.STEP_FAILED, {"reason": "boom", "final": False}),
    (EventType.STEP_FAILED, {"reason": "gave up", "final": True}),
    (EventType.STEP_QA_VERDICT, {"verdict": "PASS", "summary": "ok"}),
    (EventType.STEP_QA_VERDICT, {"verdict": "FAIL", "findings": ["no tests"]}),
    (EventType.STEP_APPROVED, {}),
    (EventType.STEP_RETRIED, {}),
    (EventType.STEP_BLOCKED, {"reason": "needs a human"}),
]
RUN_OPS: list[tuple[EventType, dict[str, Any]]] = [
    (EventType.RUN_PAUSED, {}),
    (EventType.RUN_RESUMED, {}),
    (EventType.RUN_BLOCKED, {"key": "budget", "reason": "over budget"}),
    (EventType.RUN_UNBLOCKED, {"key": "budget"}),
    (EventType.RUN_CI_REPORTED, {"status": "failure", "url": "https://ci/1"}),
    (EventType.RUN_CI_REPORTED, {"status": "success"}),
    (EventType.RUN_PR_OPENED, {"url": "https://pr/1"}),
    (EventType.RUN_NOTE, {"text": "hello"}),
    (EventType.RUN_CANCELLED, {}),
    (EventType.RUN_MERGED, {}),
    (EventType.RUN_FAILED, {"reason": "broken"}),
    (EventType.RUN_RENUMBERED, {"number": 7}),
    (EventType.RUN_PLAN_FAILED, {"reason": "no plan", "final": True}),
]
# Data of the wrong shape, as an older/newer/buggy dflow on another machine might write it:
# it cannot even become an Event (the store reads it as StateCorrupt, tests/store/).
MALFORMED_OPS: list[tuple[EventType, dict[str, Any]]] = [
    (EventType.STEP_FINISHED, {"next": "sideways"}),
    (EventType.STEP_FINISHED, {"duration_s": "long", "usage": {"input_tokens": 1}}),
    (EventType.STEP_FAILED, {"usage": ["not", "a", "dict"]}),
    (EventType.STEP_QA_VERDICT, {"verdict": "PASS", "findings": 3}),
    (EventType.STEP_QA_VERDICT, {"verdict": "MAYBE"}),
    (EventType.RUN_RENUMBERED, {}),
    (EventType.RUN_PLANNED, {"steps": [{"index": "one"}]}),
    (EventType.RUN_PLANNED, {"steps": [{"index": 9, "type": "dance"}]}),
    (EventType.RUN_INTENT, {"mode": "sometimes"}),
    (EventType.RUN_NOTE, {"writer": "an unknown key"}),
    (EventType.JOB_REQUESTED, {"kind": "teleport"}),
    (EventType.JOB_REQUESTED, {"kind": "qa", "not_before": "tomorrow"}),
    (EventType.JOB_FAILED, {"error": "no job named"}),
    (EventType.RUN_PLAN_FAILED, {"cost": "free"}),
]
JOB_OPS = [EventType.JOB_CLAIMED, EventType.JOB_FINISHED, EventType.JOB_FAILED,
           EventType.JOB_RELEASED, EventType.JOB_CANCELLED]

op = st.one_of(
    st.tuples(st.just("step"), st.integers(1, 4), st.sampled_from(STEP_OPS)),
    st.tuples(st.just("run"), st.just(0), st.sampled_from(RUN_OPS)),
    st.tuples(st.just("job"), st.integers(0, 3), st.sampled_from(JOB_OPS)),
    st.tuples(st.just("request"), st.integers(0, 3), st.sampled_from(["execute", "qa"])),
)


class Replica:
    """One machine appending events with its own Lamport clock (max seen + 1)."""

    def __init__(self, name: str, clock: int, jobs: list[str]) -> None:
        self.name, self.clock, self.jobs = name, clock, list(jobs)

    def event(self, type: EventType, *, step: int | None = None,
              data: dict[str, Any] | None = None) -> Event:
        self.clock += 1
        return Event(id=new_id(), lamport=self.clock, actor=f"{self.name}@host",
                     at=T0 + timedelta(seconds=self.clock), run=RUN, step=step, type=type,
                     data=data or {})

    def play(self, kind: str, n: int, template: Any) -> Event:
        if kind == "request":
            e = self.event(EventType.JOB_REQUESTED, step=n or None, data={"kind": template})
            self.jobs.append(e.id)
            return e
        if kind == "job":
            job = self.jobs[n % len(self.jobs)] if self.jobs else "missing-job"
            data: dict[str, Any] = {"job": job, "worker": f"w-{self.name}"}
            if template == EventType.JOB_FAILED:
                data["final"] = n == 3
            return self.event(template, data=data)
        type_, data = template
        step = n if kind == "step" and type_.value.startswith("step.") else None
        return self.event(type_, step=step, data=data)


@st.composite
def histories(draw: st.DrawFn) -> list[Event]:
    """A run created and planned, then two replicas that diverge after a common prefix."""
    origin = Replica("a", 0, [])
    steps = [{"index": i, "type": "work", "title": f"step {i}"}
             for i in range(1, draw(st.integers(1, 4)) + 1)]
    events = [
        origin.event(EventType.RUN_CREATED, data={"number": 1, "name": "demo", "task": "t"}),
        origin.event(EventType.RUN_PLANNED, data={"steps": steps, "usage": {"output_tokens": 5}}),
    ]
    for kind, n, template in draw(st.lists(op, max_size=25)):
        events.append(origin.play(kind, n, template))
    fork = Replica("b", draw(st.integers(2, origin.clock)), origin.jobs)
    for kind, n, template in draw(st.lists(op, max_size=15)):
        events.append(fork.play(kind, n, template))
    return events


def dump(snap: RunSnapshot | None) -> dict[str, Any] | None:
    return snap.model_dump(mode="json") if snap is not None else None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=histories(), data=st.data())
def test_any_delivery_order_gives_the_same_snapshot(events: list[Event],
                                                    data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(events))
    assert dump(fold.fold(shuffled)) == dump(fold.fold(events))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=histories(), data=st.data())
def test_incremental_apply_equals_a_full_refold(events: list[Event], data: st.DataObject) -> None:
    """What the store does (apply each commit's events onto the stored snapshot) is a refold."""
    chain = ordered(events)
    cuts = sorted(data.draw(st.sets(st.integers(1, len(chain) - 1), max_size=6)))
    snap: RunSnapshot | None = None
    for start, end in zip([0, *cuts], [*cuts, len(chain)], strict=True):
        snap = fold.fold(chain[start:end], start=snap)
    one_by_one = fold.fold(chain[:1])
    assert one_by_one is not None
    for event in chain[1:]:
        fold.apply(one_by_one, event)
    assert dump(snap) == dump(fold.fold(events)) == dump(one_by_one)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=histories())
def test_every_event_is_counted_and_none_crashes(events: list[Event]) -> None:
    snap = fold.fold(events)
    assert snap is not None
    assert snap.event_count == len(events)
    assert snap.rejected_count >= len(snap.rejected)
    assert snap.run.status == fold.derive_status(snap)


def _created(**data: Any) -> Event:
    return Event(id=RUN, lamport=1, actor="a@h", at=T0, run=RUN, type=EventType.RUN_CREATED,
                 data={"number": 1, "name": "x", **data})


_CLOCK = [1_700_000_000_000]  # ids in creation order, so ties on Lamport time are fixed


def _ev(lamport: int, type: EventType, step: int | None = None, **data: Any) -> Event:
    _CLOCK[0] += 1
    return Event(id=new_id(_CLOCK[0]), lamport=lamport, actor="a@h",
                 at=T0 + timedelta(seconds=lamport), run=RUN, step=step, type=type, data=data)


def test_a_step_failed_elsewhere_after_it_finished_is_rejected_with_a_reason() -> None:
    steps = [{"index": 1}]
    events = [
        _created(),
        _ev(2, EventType.RUN_PLANNED, steps=steps),
        _ev(3, EventType.STEP_STARTED, 1),
        _ev(4, EventType.STEP_FINISHED, 1, next="completed"),
        _ev(4, EventType.STEP_FAILED, 1, reason="other machine"),
    ]
    snap = fold.fold(events)
    assert snap is not None
    assert snap.run.status == RunStatus.COMPLETED
    # Same Lamport time on two machines: the id breaks the tie, the same way everywhere.
    assert [r.reason for r in snap.rejected] == ["cannot fail step 1: it is completed"]
    assert snap.rejected_count == 1


@pytest.mark.parametrize(("type_", "data"), MALFORMED_OPS)
def test_data_of_the_wrong_shape_never_becomes_an_event(type_: EventType,
                                                       data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _ev(4, type_, 1, **data)


def test_a_payload_of_another_type_is_refused() -> None:
    with pytest.raises(ValidationError, match="RunNote is not the data of a step.finished"):
        Event(id=new_id(), lamport=2, actor="a@h", at=T0, run=RUN, step=1,
              type=EventType.STEP_FINISHED, data=RunNote(text="hi"))


def test_a_bug_in_a_handler_is_raised_not_recorded_as_a_rejection(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Only NotApplicable (a business rule) becomes a Rejected record; a TypeError is a bug."""
    def buggy(snap: RunSnapshot, event: Event) -> None:
        return None + 1  # type: ignore[operator]

    monkeypatch.setitem(fold._HANDLERS, EventType.RUN_NOTE, buggy)
    with pytest.raises(TypeError):
        fold.fold([_created(), _ev(2, EventType.RUN_NOTE, text="hello")])


def test_every_event_type_has_one_payload_model() -> None:
    assert set(PAYLOADS) == set(EventType)
    assert all(t == PAYLOADS[t].TYPE for t in EventType)


def test_a_created_event_without_a_number_still_folds() -> None:
    snap = fold.fold([Event(id=RUN, lamport=1, actor="a@h", at=T0, run=RUN,
                            type=EventType.RUN_CREATED, data={})])
    assert snap is not None and (snap.run.number, snap.run.name) == (0, RUN)


def test_events_that_arrive_before_their_run_was_created_are_recorded() -> None:
    early = Event(id=new_id(), lamport=0, actor="a@h", at=T0, run=RUN,
                  type=EventType.RUN_NOTE, data={})
    snap = fold.fold([_created(), early])
    assert snap is not None
    assert [r.reason for r in snap.rejected] == ["arrived before its run was created"]


def test_paused_is_a_flag_that_leaves_the_derived_status_alone() -> None:
    events = [_created(), _ev(2, EventType.RUN_PLANNED, steps=[{"index": 1}]),
              _ev(3, EventType.STEP_STARTED, 1), _ev(4, EventType.RUN_PAUSED)]
    snap = fold.fold(events)
    assert snap is not None and snap.run.paused and snap.run.status == RunStatus.RUNNING


def test_a_completed_run_cannot_be_paused() -> None:
    events = [_created(), _ev(2, EventType.RUN_PLANNED, steps=[{"index": 1}]),
              _ev(3, EventType.STEP_STARTED, 1),
              _ev(4, EventType.STEP_FINISHED, 1, next="completed"),
              _ev(5, EventType.RUN_PAUSED)]
    snap = fold.fold(events)
    assert snap is not None and not snap.run.paused
    assert snap.run.status == RunStatus.COMPLETED
    assert snap.rejected[-1].reason == "cannot pause: run is completed"  # the fold's own word


BOOKKEEPING = {"event_count", "last_event", "last_lamport", "rejected", "rejected_count"}


def _facts(snap: RunSnapshot) -> dict[str, Any]:
    doc = snap.model_dump(mode="json", exclude=BOOKKEEPING)
    doc["run"].pop("updated_at")
    return doc


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=histories())
def test_a_rejected_event_changes_no_fact(events: list[Event]) -> None:
    """What lets the store apply strictly without copying the snapshot first."""
    chain = ordered(events)
    snap = fold.fold(chain[:1])
    assert snap is not None
    for event in chain[1:]:
        before = snap.model_copy(deep=True)
        reason = fold.apply_strict(snap, event)
        if reason is None:
            fold.apply(before, event)
            assert before.model_dump(mode="json") == snap.model_dump(mode="json")
        else:
            assert snap.model_dump(mode="json") == before.model_dump(mode="json")
            fold.apply(before, event)
            assert _facts(before) == _facts(snap)
            assert before.rejected[-1].reason == reason
