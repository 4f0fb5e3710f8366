"""The lower floors of the house import only downward (docs/architecture.md). No exceptions.

The service floors (workflow, jobs, sync, ci) still import each other; issue 12 moves `Project`
into a context package and adds a composition root, after which this table grows a row per
floor. Until then a new upward import into the floors below is caught here."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "deksdenflow"

# floor -> the floors (and top-level modules) it may import; anything else is upward.
ALLOWED: dict[str, set[str]] = {
    "exit_codes": set(),
    "errors": {"exit_codes"},
    "domain": {"errors", "exit_codes"},
    "git": {"errors", "exit_codes", "domain"},
    # store starts git's background gc through the one git runner (decision 0720).
    "store": {"errors", "exit_codes", "domain", "git", "__init__"},
    "engines": {"errors", "exit_codes", "domain"},
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


def test_the_lower_floors_import_only_downward() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        floor = _floor(path)
        if floor not in ALLOWED:
            continue
        for target in _imports(path) - {floor} - ALLOWED[floor]:
            if (PACKAGE / target).is_dir() or (PACKAGE / f"{target}.py").exists():
                upward.append(f"{path.relative_to(PACKAGE)} imports {target}")
    assert upward == []


def test_only_store_and_git_import_pygit2_among_the_lower_floors() -> None:
    found = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
             if _floor(p) in ALLOWED and _floor(p) not in ("store", "git")
             and "pygit2" in p.read_text()]
    assert found == []


def test_the_checker_sees_an_upward_import() -> None:
    text = "from ..store import Store\nfrom deksdenflow.cli import app\nfrom .. import jobs\n"
    assert _imports_of(text, ("domain", "probe.py")) >= {"store", "cli", "jobs"}
