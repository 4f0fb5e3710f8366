"""One word for where a run is: every status, paused or not, merged or not, lands on a stage."""

from __future__ import annotations

import itertools

from deksdenflow.domain.runs.models import RunStatus
from deksdenflow.domain.runs.stages import STAGES, stage


def test_every_combination_is_one_of_the_ten_stage_words() -> None:
    for status, paused, merged, waiting in itertools.product(
            [s.value for s in RunStatus], (False, True), (False, True), (False, True)):
        assert stage(status, paused=paused, merged=merged, waiting=waiting) in STAGES


def test_a_terminal_run_is_never_also_paused() -> None:
    assert stage("cancelled", paused=True) == "cancelled"
    assert stage("failed", paused=True, waiting=True) == "failed"
    assert stage("completed", paused=True) == "ready to land"
    assert stage("completed", merged=True) == "merged"


def test_what_a_person_must_do_outranks_what_the_machine_does() -> None:
    assert stage("running", paused=True, waiting=True) == "paused"
    assert stage("blocked", waiting=True) == "blocked"
    assert stage("planned", waiting=True) == "waiting"
    assert stage("pending", waiting=True) == "waiting"
    assert (stage("pending"), stage("planning"), stage("planned"), stage("running")) == \
        ("pending", "planning", "running", "running")
