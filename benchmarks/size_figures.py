"""Print module and function size figures of a dflow checkout (docs/architecture.md).

Usage: python benchmarks/size_figures.py [PACKAGE_DIR]   (default: deksdenflow)"""

from __future__ import annotations

import ast
import statistics
import sys
from pathlib import Path


def figures(package: Path) -> dict[str, float]:
    modules = sorted(package.rglob("*.py"))
    lines = [len(p.read_text().splitlines()) for p in modules]
    funcs: list[int] = []
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                funcs.append((node.end_lineno or node.lineno) - node.lineno + 1)
    return {
        "modules": len(modules), "lines": sum(lines),
        "module median lines": statistics.median(lines), "module max lines": max(lines),
        "modules over 400 lines": sum(n > 400 for n in lines),
        "functions": len(funcs), "function median lines": statistics.median(funcs),
        "functions over 30 lines": sum(n > 30 for n in funcs), "function max lines": max(funcs),
    }


if __name__ == "__main__":
    for key, value in figures(Path(sys.argv[1] if len(sys.argv) > 1 else "deksdenflow")).items():
        print(f"{key:26} {value:g}")
