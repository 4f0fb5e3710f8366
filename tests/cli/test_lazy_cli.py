"""The CLI loads only what the invoked command needs (docs/decisions/1300-lazy-command-loading.md).

Imports are checked in fresh interpreters: in this test process everything is loaded already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deksdenflow.cli import commands
from deksdenflow.cli.app import _module_commands, app

# What no command that does not run jobs, engines, the console or a server may import.
HEAVY = ("textual", "httpx", "deksdenflow.engines", "deksdenflow.jobs.runner",
         "deksdenflow.console", "fastapi", "starlette", "uvicorn", "mcp", "deksdenflow.web",
         "deksdenflow.mcp")

_PROBE = """
import json, os, sys
sys.argv = ["dflow", *json.loads(sys.argv[1])]
def _exit(code):  # a command that ends at once (decisions 1315, 1611) is still counted
    raise SystemExit(code)
os._exit = _exit
from deksdenflow.cli.main import main
try:
    main()
except SystemExit:
    pass
sys.stdout.flush()
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
"""


def loaded_by(argv: list[str], cwd: Path | None = None) -> set[str]:
    """The modules a fresh `dflow ARGV` has imported when it is done."""
    out = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(argv)], cwd=cwd,
                         capture_output=True, text=True, timeout=120)
    marker = out.stderr.rfind("MODULES ")
    assert marker >= 0, out.stderr
    return set(json.loads(out.stderr[marker + len("MODULES "):]))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("module", ["deksdenflow.cli.main", "deksdenflow.cli.app"])
def test_importing_the_cli_pulls_in_no_console_engine_or_job_runner(module: str) -> None:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    modules = set(json.loads(out.stdout))
    assert heavy_in(modules) == []
    assert not any(m.startswith("deksdenflow.cli.") and m.endswith("_cmds") for m in modules)


def test_the_probe_sees_a_heavy_import() -> None:
    # The check above must be able to fail: a command that runs jobs does import the runner.
    assert "deksdenflow.jobs.runner" in heavy_in(loaded_by(["run", "--help"]))


def test_version_and_help_need_no_typer() -> None:
    for argv in (["--version"], ["--help"], ["-h"]):
        modules = loaded_by(argv)
        assert "typer" not in modules and "pydantic" not in modules, argv


def test_help_through_typer_imports_no_command_module() -> None:
    modules = loaded_by(["--debug", "--help"])  # not the fast path: Typer renders it
    assert "typer" in modules
    assert not any(m.startswith("deksdenflow.cli.") and m.endswith("_cmds") for m in modules)


@pytest.mark.parametrize("columns", ["30", "61", "79", "132"])
def test_fast_help_is_what_typer_prints(columns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # `--debug --help` takes Typer's path; Typer's test runner forces its own width, so a
    # real process it is.
    monkeypatch.setenv("COLUMNS", columns)
    typer_help = subprocess.run([sys.executable, "-m", "deksdenflow.cli.main", "--debug",
                                 "--help"], capture_output=True, text=True, check=True,
                                timeout=120).stdout
    assert commands.root_help() == typer_help


def test_the_table_names_every_command_with_its_own_summary() -> None:
    found = {}
    for module in sorted({m for _, m, _ in commands.COMMANDS}):
        for name, command in _module_commands(module).items():
            found[name] = (module, command.get_short_help_str(limit=10_000))
    assert found == {name: (module, summary) for name, module, summary in commands.COMMANDS}


def test_a_typo_still_gets_a_suggestion(cli: object) -> None:
    result = cli("stauts")  # type: ignore[operator]
    assert result.exit_code == 2
    assert "Did you mean 'status'?" in result.output
    assert app.info.cls is not None
