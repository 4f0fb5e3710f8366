"""domain/waits.py words why a serial run waits exactly as domain/reconcile.py does."""

from __future__ import annotations

import itertools
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from deksdenflow.domain import reconcile, waits
from deksdenflow.domain.models import (
    Job,
    JobKind,
    JobStatus,
    ProtocolRun,
    RunSnapshot,
    RunStatus,
    StepRun,
    StepStatus,
)
from deksdenflow.domain.settings import ProjectSettings

BLOCKS = [{}, {"plan": "no plan"}, {"ci": "red"}, {"budget": "over (budget.run.max_tokens)"},
          {"budget": "over"}, {"land": "behind", "ci": "red"}, {"qa": "x"}]
PAYLOADS = [{}, {"chain": True}, {"chain": False}, {"then": "all"}, {"then": "step"},
            {"then": "odd"}]

steps = st.lists(st.tuples(st.sampled_from(list(StepStatus)), st.booleans(),
                           st.sampled_from(["", "it broke", "QA could not run: refused"]),
                           st.integers(0, 1)), max_size=3)
jobs = st.lists(st.tuples(st.sampled_from(list(JobStatus)), st.sampled_from(PAYLOADS)),
                max_size=2)


@settings(max_examples=600, deadline=None)
# Weighted towards runs that move (no blocks, not paused, not done), where most words differ.
@given(status=st.sampled_from([*RunStatus, RunStatus.RUNNING, RunStatus.RUNNING]),
       paused=st.sampled_from([False, False, True]), planned=st.booleans(),
       blocks=st.sampled_from([{}] * 6 + BLOCKS),
       intent=st.sampled_from(["", "all", "step", "manual", "odd"]),
       credit=st.integers(0, 1), steps=steps, jobs=jobs,
       policy=st.sampled_from(["each_step", "end", "never"]))
def test_the_json_reading_waits_for_what_the_reconciler_says(
        status: RunStatus, paused: bool, planned: bool, blocks: dict[str, str], intent: str,
        credit: int, steps: list[tuple[StepStatus, bool, str, int]],
        jobs: list[tuple[JobStatus, dict[str, object]]], policy: str) -> None:
    snap = RunSnapshot(
        run=ProtocolRun(uid="01ARZ3NDEKTSV4RRFFQ69G5FAV", number=7, name="x", status=status,
                        paused=paused, planned=planned, blocks=blocks, intent=intent,
                        step_credit=credit),
        steps=[StepRun(index=i + 1, status=s, final_failure=final, reason=reason,
                       attempts=attempts)
               for i, (s, final, reason, attempts) in enumerate(steps)],
        jobs=[Job(id=f"01ARZ3NDEKTSV4RRFFQ69G5F{i:02d}", kind=JobKind.NOOP, status=s,
                  payload=payload) for i, (s, payload) in enumerate(jobs)])
    settings_ = ProjectSettings.model_validate({"qa": {"policy": policy}})
    expected = reconcile.waiting(snap, settings_)
    found = waits.waiting(json.loads(snap.model_dump_json()), policy)
    assert found == ((expected.reason, expected.command) if expected else None)


def _same(snap: RunSnapshot, policy: str) -> None:
    expected = reconcile.waiting(snap, ProjectSettings.model_validate({"qa": {"policy": policy}}))
    found = waits.waiting(json.loads(snap.model_dump_json()), policy)
    assert found == ((expected.reason, expected.command) if expected else None), snap


STEP_STATES = [(s, False) for s in StepStatus] + [(StepStatus.FAILED, True)]


def test_every_serial_state_of_a_moving_run_waits_for_the_same() -> None:
    # Every sequence of one or two step states, intent, credit, policy and closed job: the
    # branches where the words differ most (the property above samples the rest).
    sequences = [[a] for a in STEP_STATES] + [[a, b] for a in STEP_STATES for b in STEP_STATES]
    closed: list[list[Job]] = [[], *([Job(id="01ARZ3NDEKTSV4RRFFQ69G5F00", kind=JobKind.NOOP,
                                          status=JobStatus.FINISHED, payload=p)]
                                     for p in ({"chain": False}, {"then": "all"}))]
    for planned, seq, intent, credit, jobs_, policy in itertools.product(
            (True, False), sequences, ("", "all", "step", "manual"), (0, 1), closed,
            ("each_step", "end", "never")):
        _same(RunSnapshot(
            run=ProtocolRun(uid="01ARZ3NDEKTSV4RRFFQ69G5FAV", number=7, name="x",
                            status=RunStatus.RUNNING, planned=planned, intent=intent,
                            step_credit=credit),
            steps=[StepRun(index=i + 1, status=s, final_failure=final)
                   for i, (s, final) in enumerate(seq)],
            jobs=jobs_), policy)


def test_the_json_reading_has_the_reconciler_s_words() -> None:
    assert waits.COMMANDS == reconcile.COMMANDS
    assert waits._LIMIT_KEY.pattern == reconcile._LIMIT_KEY.pattern
    assert waits.INTENTS == reconcile.INTENTS
