"""What the demo engine writes: its plan, the files each step changes, and each step's check."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

MODULE = '''"""Greetings for protocol {protocol}, written by the dflow demo engine."""


def greet(name: str) -> str:
    """Greet someone by name.

    >>> greet("Ada")
    'Hello, Ada!'
    """
    return {body}
'''

TEST = '''"""Tests for {module}, written by the dflow demo engine."""

import unittest

from {module} import greet


class GreetTest(unittest.TestCase):
    def test_greets_by_name(self) -> None:
        self.assertEqual(greet("Grace"), "Hello, Grace!")


if __name__ == "__main__":
    unittest.main()
'''

README = """
## {module}

`{module}.greet(name)` says hello (added by dflow protocol {protocol}):

```python
>>> from {module} import greet
>>> greet("Linus")
'Hello, Linus!'

```
"""

# The README step's check: run the doctest of its own section only.
README_CHECK = (
    "import doctest, sys; text = open(sys.argv[1]).read(); "
    "part = text[text.index(sys.argv[2]):]; "
    "test = doctest.DocTestParser().get_doctest(part, {}, 'README', sys.argv[1], 0); "
    "runner = doctest.DocTestRunner(); runner.run(test); "
    "sys.exit(1 if runner.failures else 0)"
)


NOTES = """# {module}

Written by dflow protocol {protocol}: `{module}.py` (the module), `tests/test_{module}.py`
(its test) and the `## {module}` section of README.md (its documentation).
"""

# The notes step's check: every file it names exists, and the module's test passes.
NOTES_CHECK = (
    "import os, subprocess, sys; missing = [p for p in sys.argv[1:] if not os.path.exists(p)]; "
    "print('missing: ' + ', '.join(missing)) if missing else None; "
    "sys.exit(1 if missing else subprocess.call([sys.executable, '-m', 'unittest', "
    "'discover', '-s', 'tests', '-p', os.path.basename(sys.argv[3])]))"
)


MARKERS = ("<<<<<<< ", "=======", ">>>>>>> ")
LINE_CHECK = (
    "import sys; text = open(sys.argv[1]).read(); "
    "sys.exit(1 if any(m in text for m in ('<<<<<<< ', '>>>>>>> ')) else 0)"
)


def module_name(protocol: str) -> str:
    return "demo_" + protocol.split("-", 1)[1].replace("-", "_")


def plan(protocol: str, parallel: bool = False) -> dict[str, Any]:
    """The plan output for `protocol` (NNNN-name), shaped like PlanOutput: three steps in a
    row, or with `parallel` a diamond (01 → 02 and 03 at once → 04; 02 and 03 touch
    different files)."""
    module = module_name(protocol)
    steps = _steps(module)
    deps: dict[int, list[int] | None] = {1: None, 2: None, 3: None}
    if parallel:
        steps.append(_notes_step(module))
        deps = {1: [], 2: [1], 3: [1], 4: [2, 3]}
    files = [
        {"path": "plan.md", "content": _plan_md(protocol, module, steps)},
        {
            "path": "context.md",
            "content": f"# Context for {protocol}\n\nA demo: plain Python "
            "3 standard library, no dependencies. Checks run with `python -m`.\n",
        },
        {"path": "log.md", "content": f"# Log for {protocol}\n"},
    ]
    for index, slug, title, action, target, goal, check in steps:
        files.append(
            {
                "path": f"{index:02d}-{slug}.md",
                "content": (
                    f"# Step {index:02d}: {title}\n\n<!-- dflow-demo: {action} {target} -->\n\n"
                    f"## Goal\n\n{goal}\n\n## Check\n\n{check}\n"
                ),
            }
        )
    return {
        "summary": f"Add a tiny `{module}` module, its test and a README section.",
        "files": files,
        "steps": [
            {"index": i, "type": "work", "title": t, "file": f"{i:02d}-{s}.md",
             "depends_on": deps[i]}
            for i, s, t, *_ in steps
        ],
    }


def _notes_step(module: str) -> tuple[Any, ...]:
    return (
        4,
        "write-notes",
        f"Write the notes for {module}",
        "notes",
        f"docs/{module}.md",
        f"Write `docs/{module}.md` naming the module, its test and its README section.",
        "The module's test passes and every file the notes name exists.",
    )


def _steps(module: str) -> list[tuple[Any, ...]]:
    return [
        (
            1,
            "add-module",
            f"Add the {module} module",
            "module",
            f"{module}.py",
            f"Create `{module}.py` with `greet(name)` returning `Hello, <name>!` and a doctest.",
            f"`python -m doctest {module}.py` passes.",
        ),
        (
            2,
            "add-test",
            f"Test {module}",
            "test",
            f"tests/test_{module}.py",
            f"Create `tests/test_{module}.py` with a unittest for `greet`.",
            f"`python -m unittest discover -s tests -p test_{module}.py` passes.",
        ),
        (
            3,
            "document",
            f"Document {module} in the README",
            "readme",
            "README.md",
            f"Append a `## {module}` section with a runnable example to README.md.",
            "The section's doctest passes.",
        ),
    ]


def _plan_md(protocol: str, module: str, steps: list[tuple[Any, ...]]) -> str:
    lines = [
        f"# Plan for {protocol}",
        "",
        f"Goal: a `{module}` module with a test and docs.",
        "",
        "## Steps",
        "",
    ]
    lines += [f"{i:02d}. {title} — check: {check}" for i, _, title, _, _, _, check in steps]
    return "\n".join(lines) + "\n"


def apply(cwd: Path, protocol: str, action: str, target: str, *, buggy: bool = False,
          step: str = "") -> str:
    """Make the step's change in the worktree; returns the executor's summary."""
    module = module_name(protocol)
    path = cwd / target
    path.parent.mkdir(parents=True, exist_ok=True)
    if action == "module":
        body = '"Hello " + name' if buggy else 'f"Hello, {name}!"'
        path.write_text(MODULE.format(protocol=protocol, body=body))
    elif action == "notes":
        path.write_text(NOTES.format(module=module, protocol=protocol))
    elif action == "line":  # one line naming the step: two such steps on one file conflict
        path.write_text(f"written by {step or 'a step'}\n")
    elif action == "test":
        path.write_text(TEST.format(module=module))
    else:
        existing = path.read_text() if path.exists() else ""
        if f"## {module}\n" not in existing:
            path.write_text(
                existing.rstrip("\n") + "\n" + README.format(module=module, protocol=protocol)
            )
    return f"wrote {target} ({action} step of the demo)"


def resolve(cwd: Path, files: list[str]) -> str:
    """A demo resolution: keep both sides of every conflict (drop git's marker lines)."""
    for name in files:
        path = cwd / name
        if path.is_file():
            lines = path.read_text().splitlines(keepends=True)
            path.write_text("".join(line for line in lines if not line.startswith(MARKERS)))
    return f"resolved {', '.join(files)} by keeping both sides"


def check_command(protocol: str, action: str, target: str) -> tuple[str, list[str]]:
    """What really checks a step (run by the demo reviewer in the worktree): label, argv."""
    py = sys.executable
    if action == "line":
        return f"{target} exists without conflict markers", [py, "-c", LINE_CHECK, target]
    if action == "module":
        return f"python -m doctest {target}", [py, "-m", "doctest", target]
    if action == "test":
        folder, name = str(Path(target).parent), Path(target).name
        return (
            f"python -m unittest discover -s {folder} -p {name}",
            [py, "-m", "unittest", "discover", "-s", folder, "-p", name],
        )
    if action == "notes":
        module = module_name(protocol)
        return (
            f"the notes' files exist and python -m unittest tests/test_{module}.py",
            [py, "-c", NOTES_CHECK, target, f"{module}.py", f"tests/test_{module}.py",
             "README.md"],
        )
    section = f"## {module_name(protocol)}\n"
    return (
        f"the doctest of {target}'s {section.strip()} section",
        [py, "-c", README_CHECK, target, section],
    )
