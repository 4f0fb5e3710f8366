"""The floors of the house import only downward (docs/architecture.md), for every package:
no upward import, no import between two floors that are not ordered, so no cycle. The table
is pyproject.toml's import-linter contracts, read by benchmarks/floors.py (the one place the
floor order is written); this test checks it without import-linter, imports inside
functions included."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "deksdenflow"


def _read_contracts() -> Any:
    spec = importlib.util.spec_from_file_location("floors", ROOT / "benchmarks" / "floors.py")
    assert spec is not None and spec.loader is not None
    floors = sys.modules["floors"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(floors)
    return floors.read(ROOT / "pyproject.toml")


# The contracts are the table: floor -> the floors (and top-level modules) it may import;
# anything else is upward or an exception a contract names. The package's own __init__ (the
# version) imports nothing.
CONTRACTS = _read_contracts()
ALLOWED: dict[str, set[str]] = {"__init__": set(), **CONTRACTS.allowed}


def _floor(path: Path) -> str:
    rel = path.relative_to(PACKAGE).parts
    return rel[0] if len(rel) > 1 else rel[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    """The top-level dflow floors `path` imports (relative or absolute)."""
    return _imports_of(path.read_text(), path.relative_to(PACKAGE).parts)


def _imports_of(text: str, rel: tuple[str, ...]) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = list(rel[:-1])[: len(rel) - node.level]
            names = [*base, *(node.module or "").split(".")]
            names = [n for n in names if n] or [a.name for a in node.names]
            found.add(names[0] if base or node.module else node.names[0].name)
            if not base and not node.module:  # `from .. import x`: each name is a floor
                found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [
                a.name for a in node.names]
            found.update(m.split(".")[1] for m in modules
                         if m.startswith("deksdenflow.") and m.count(".") >= 1)
    return found


def test_every_floor_imports_only_downward() -> None:
    upward, unknown = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        floor = _floor(path)
        if floor not in ALLOWED:
            unknown.append(floor)
            continue
        for target in _imports(path) - {floor} - ALLOWED[floor]:
            if (PACKAGE / target).is_dir() or (PACKAGE / f"{target}.py").exists():
                upward.append(f"{path.relative_to(PACKAGE)} imports {target}")
    assert (upward, unknown) == ([], [])


def test_the_table_has_no_cycle() -> None:
    seen: dict[str, int] = {}  # 1 = on the path, 2 = done

    def visit(floor: str, path: list[str]) -> None:
        assert seen.get(floor) != 1, f"cycle: {' -> '.join([*path, floor])}"
        if seen.get(floor) == 2:
            return
        seen[floor] = 1
        for below in sorted(ALLOWED.get(floor, set())):
            visit(below, [*path, floor])
        seen[floor] = 2

    for floor in sorted(ALLOWED):
        visit(floor, [])


def test_no_floor_imports_an_outside_package_a_contract_forbids_it() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        banned = CONTRACTS.banned_outside.get(_floor(path), set())
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            found += [f"{path.relative_to(PACKAGE)} imports {n}" for n in names
                      if n.split(".")[0] in banned]
    assert found == []


def test_only_store_and_git_may_touch_pygit2() -> None:
    may = {floor for floor, banned in CONTRACTS.banned_outside.items() if "pygit2" not in banned}
    assert may == {"store", "git"}, (
        f"{sorted(may - {'store', 'git'})} may import pygit2: name them in pyproject's contract "
        "'only store and git touch pygit2'")


def test_the_checker_sees_an_upward_import() -> None:
    text = "from ..store import Store\nfrom deksdenflow.cli import app\nfrom .. import jobs\n"
    assert _imports_of(text, ("domain", "probe.py")) >= {"store", "cli", "jobs"}


def test_no_face_may_import_the_store() -> None:
    """The faces read the ref through `reads` and the services (decision 1600): a cli,
    console, web or MCP module importing the store (even its stdlib-only cache) is upward."""
    for face in ("cli", "console", "web", "mcp"):
        assert "store" not in ALLOWED[face], face
        found = _imports_of("from ..store import cache\n", (face, "probe.py"))
        assert found - ALLOWED[face] == {"store"}, face
    assert "store" in ALLOWED["reads"] and "reads" not in ALLOWED["store"]


def test_the_contracts_are_read_with_their_exceptions() -> None:
    """The reading of the contracts can fail: an exception a forbidden contract names is gone
    from the floor's allowed set, siblings do not see each other, the order is top-down."""
    assert "engines" in CONTRACTS.below("cli") and "engines" not in ALLOWED["cli"]
    assert "web" not in ALLOWED["console"] and "console" not in ALLOWED["web"]
    assert "cli" not in ALLOWED["store"] and "store" in ALLOWED["workflow"]
