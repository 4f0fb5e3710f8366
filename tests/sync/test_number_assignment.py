"""Protocol numbers after a merge: a pure, stable function of the runs' claims."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from deksdenflow.store.sharing.merge import assign_numbers


def _claims(spec: list[tuple[int, int]]) -> list[tuple[int, tuple[int, str], str]]:
    """[(claimed number, lamport)] -> claims with uids r0, r1, ... in that order."""
    return [(n, (lamport, f"r{i}"), f"r{i}") for i, (n, lamport) in enumerate(spec)]


def test_the_earliest_claimant_keeps_the_number_and_the_later_takes_a_free_one() -> None:
    got = assign_numbers(_claims([(1, 1), (2, 2), (1, 1)]))  # r2 ties r0 on lamport: id decides
    assert got == {"r0": 1, "r1": 2, "r2": 3}


def test_a_displaced_run_fills_the_lowest_number_nobody_claimed() -> None:
    assert assign_numbers(_claims([(1, 1), (1, 2), (5, 3)])) == {"r0": 1, "r1": 2, "r2": 5}


@given(st.lists(st.tuples(st.integers(1, 6), st.integers(1, 9)), min_size=1, max_size=12),
       st.randoms())
def test_numbers_are_unique_and_independent_of_the_order_claims_are_seen(
    spec: list[tuple[int, int]], rnd: random.Random
) -> None:
    claims = _claims(spec)
    shuffled = list(claims)
    rnd.shuffle(shuffled)
    got = assign_numbers(claims)
    assert got == assign_numbers(shuffled)
    assert len(set(got.values())) == len(got)


@given(st.lists(st.tuples(st.integers(1, 6), st.integers(1, 9)), min_size=1, max_size=12))
def test_a_run_created_after_a_merge_never_moves_an_earlier_run(
    spec: list[tuple[int, int]],
) -> None:
    claims = _claims(spec)
    before = assign_numbers(claims)
    later = (max(before.values()) + 1, (99, "zz-new"), "zz-new")  # what `dflow new` claims next
    after = assign_numbers([*claims, later])
    assert {uid: after[uid] for uid in before} == before
    assert after["zz-new"] == later[0]
