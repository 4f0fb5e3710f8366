"""Steps as a dependency graph: which step needs which, checked for cycles, and drawn.

Pure: no I/O. A plan's `depends_on` is resolved once, when the plan is recorded (no
`depends_on` = the step before), so the fold and the reconciler only read explicit lists
(docs/decisions/1400-plans-are-dependency-graphs.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class GraphError(ValueError):
    """A dependency list that cannot be run: unknown index, self-dependency or a cycle."""


def resolve(indexes: Sequence[int], given: Mapping[int, list[int] | None]) -> dict[int, list[int]]:
    """Each step's dependencies: the given list, or the step before it when none is given."""
    ordered = sorted(indexes)
    deps: dict[int, list[int]] = {}
    for pos, index in enumerate(ordered):
        listed = given.get(index)
        if listed is None:
            deps[index] = [ordered[pos - 1]] if pos > 0 else []
        else:
            deps[index] = sorted(set(listed))
    check(deps)
    return deps


def check(deps: Mapping[int, list[int]]) -> None:
    """Refuse an unknown index, a self-dependency or a cycle, naming it."""
    for index, needs in sorted(deps.items()):
        for need in needs:
            if need == index:
                raise GraphError(f"step {index:02d} depends on itself")
            if need not in deps:
                raise GraphError(f"step {index:02d} depends on step {need:02d}, "
                                 "which the plan does not have")
    cycle = find_cycle(deps)
    if cycle:
        raise GraphError("the steps depend on each other in a cycle: "
                         + " → ".join(f"{i:02d}" for i in cycle))


def find_cycle(deps: Mapping[int, list[int]]) -> list[int]:
    """One cycle as a path that ends where it starts (02 → 03 → 02), or []."""
    state: dict[int, int] = {}  # 1: on the current path, 2: done
    path: list[int] = []

    def visit(node: int) -> list[int]:
        state[node] = 1
        path.append(node)
        for need in deps.get(node, []):
            if state.get(need) == 1:
                return [*path[path.index(need):], need]
            if need not in state:
                found = visit(need)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(deps):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def order(deps: Mapping[int, list[int]]) -> list[int]:
    """A dependency order (each step after what it needs; ties by index)."""
    done: list[int] = []
    left = dict(deps)
    while left:
        ready = sorted(i for i, needs in left.items() if all(n in done for n in needs))
        if not ready:  # a cycle: cannot happen for a checked graph; keep the rest by index
            ready = sorted(left)
        done.append(ready[0])
        del left[ready[0]]
    return done


def levels(deps: Mapping[int, list[int]]) -> dict[int, int]:
    """Each step's depth: 0 for steps that need nothing, else 1 + the deepest it needs."""
    depth: dict[int, int] = {}
    for index in order(deps):
        depth[index] = 1 + max((depth.get(n, 0) for n in deps[index]), default=-1)
    return depth


def draw(deps: Mapping[int, list[int]], label: Mapping[int, str]) -> list[str]:
    """The graph as text, one line per step, indented by depth, naming what each waits for:

        01 ● add module
          02 ● add test            ← 01
          03 ○ document            ← 01
            04 ○ summary           ← 02 03
    """
    depth = levels(deps)
    lines = []
    for index in sorted(deps, key=lambda i: (depth[i], i)):
        head = f"{'  ' * depth[index]}{index:02d} {label.get(index, '')}"
        needs = deps[index]
        tail = f"  ← {' '.join(f'{n:02d}' for n in needs)}" if needs else ""
        lines.append(f"{head}{tail}")
    return lines
