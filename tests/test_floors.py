"""The floors of the house import only downward (docs/architecture.md), for every package:
no upward import, no import between two floors that are not ordered, so no cycle. The table
is the contract; there are no exceptions beside it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "deksdenflow"

# the version, exit codes, user-facing errors, the DFLOW_* variables
BASE = {"__init__", "exit_codes", "errors", "environment", "faults"}
LOWER = BASE | {"domain", "git", "store"}
SERVICES = ["jobs", "observe", "sync", "workflow", "ci", "projects"]

# floor -> the floors (and top-level modules) it may import; anything else is upward.
ALLOWED: dict[str, set[str]] = {
    "__init__": set(),
    "exit_codes": set(),
    "errors": {"exit_codes"},
    "environment": {"errors", "exit_codes"},
    "faults": {"environment"},  # the test-only stopping points, called by name
    "crash": {"__init__"},  # the crash log names the version
    "domain": {"errors", "exit_codes"},
    "git": BASE | {"domain"},
    # store starts git's background gc through the one git runner (decision 0720).
    "store": BASE | {"domain", "git"},
    # engines implement domain/engine.py; the composition root builds them for the services.
    "engines": BASE | {"domain"},
    "context": LOWER,
    # the services, bottom to top: each may use the ones before it, never one after it.
    "jobs": LOWER | {"context"},
    "observe": LOWER | {"context"},
    "sync": LOWER | {"context", "jobs"},
    "workflow": LOWER | {"context", "jobs", "sync"},
    "ci": LOWER | {"context", "jobs", "sync", "workflow"},
    "projects": LOWER | {"context", "jobs", "sync", "workflow", "ci"},
    # the read side: what the faces show, read from the ref and the caches (decision 1600).
    "reads": LOWER | {"context", *SERVICES},
    # the root hands the excerpts of a published commit over (reads/excerpts.py).
    "wiring": LOWER | {"context", "engines", "reads", *SERVICES},
    "wording": {"domain"},
    # the two faces: parse, call, render. Neither imports the other's modules.
    # cli reads the ref only through the read side: no store (decision 1600).
    "cli": BASE | {"domain", "git", "context", "wiring", "reads", "wording", "crash",
                   "console", "web", "mcp", *SERVICES},
    "console": BASE | {"domain", "context", "wiring", "reads", "wording", "crash", *SERVICES},
    # `dflow serve` (HTTP) and `dflow mcp` (stdio): faces beside the console, without the
    # store or git; the MCP tools call the very operations the HTTP API calls (web/ops.py).
    "web": BASE | {"domain", "context", "wiring", "reads", "wording", "crash", *SERVICES},
    "mcp": BASE | {"domain", "context", "wiring", "reads", "wording", "crash", "web",
                   *SERVICES},
}


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


def test_only_store_and_git_import_pygit2() -> None:
    found = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
             if _floor(p) not in ("store", "git") and "import pygit2" in p.read_text()]
    assert found == []


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
