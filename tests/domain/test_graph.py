"""Plans as dependency graphs: resolved lists, refused cycles, a dependency order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deksdenflow.domain.runs import graph


def test_no_depends_on_means_the_step_before() -> None:
    assert graph.resolve([3, 1, 2], {}) == {1: [], 2: [1], 3: [2]}


def test_an_empty_list_means_independent() -> None:
    assert graph.resolve([1, 2, 3], {2: [], 3: [1, 2]}) == {1: [], 2: [], 3: [1, 2]}


@pytest.mark.parametrize(("given_deps", "message"), [
    ({1: [], 2: [2]}, "step 02 depends on itself"),
    ({1: [], 2: [7]}, "step 02 depends on step 07, which the plan does not have"),
    ({1: [3], 2: [1], 3: [2]}, "in a cycle: 01 → 03 → 02 → 01"),
])
def test_an_unrunnable_graph_is_refused_naming_the_fault(given_deps: dict[int, list[int]],
                                                         message: str) -> None:
    with pytest.raises(graph.GraphError, match=message):
        graph.resolve([1, 2, 3] if 3 in given_deps else [1, 2], given_deps)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.integers(0, 7), st.lists(st.integers(0, 7), max_size=3),
                       min_size=1, max_size=8))
def test_a_checked_graph_has_an_order_that_respects_every_dependency(
        raw: dict[int, list[int]]) -> None:
    deps = {i: [n for n in needs if n in raw] for i, needs in raw.items()}
    if graph.find_cycle(deps) or any(i in needs for i, needs in deps.items()):
        with pytest.raises(graph.GraphError):
            graph.check(deps)
        return
    graph.check(deps)
    order = graph.order(deps)
    assert sorted(order) == sorted(deps)
    for index, needs in deps.items():
        assert all(order.index(n) < order.index(index) for n in needs)


def test_the_diamond_is_drawn_by_depth() -> None:
    deps = {1: [], 2: [1], 3: [1], 4: [2, 3]}
    lines = graph.draw(deps, {1: "a", 2: "b", 3: "c", 4: "d"})
    assert lines == ["01 a", "  02 b  ← 01", "  03 c  ← 01", "    04 d  ← 02 03"]
