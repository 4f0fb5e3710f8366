"""The error boundary: exit codes, closed pipes, JSON errors, the crash log (decision 0900)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deksdenflow.exit_codes import ExitCode


def test_a_closed_pipe_exits_quietly(repo: Path, cli) -> None:
    assert cli("init", "--engine", "demo", cwd=repo).exit_code == 0
    for n in range(3):
        assert cli("new", f"r{n}", "--task", "t", "--no-plan", cwd=repo).exit_code == 0
    proc = subprocess.Popen([sys.executable, "-m", "deksdenflow.cli.main", "events"], cwd=repo,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # `| head -0`: the reader is gone before dflow writes
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == ExitCode.OK and err == ""


def test_a_json_command_prints_its_error_as_json_on_stdout(tmp_path: Path, cli) -> None:
    result = cli("status", "--json", cwd=tmp_path)
    assert result.exit_code == ExitCode.FAILED
    first = result.stdout.splitlines()[0]
    error = json.loads(first)["error"]
    assert error["code"] == 1 and "is not inside a git repository" in error["message"]


def test_a_bug_writes_its_traceback_to_the_crash_log_and_says_where(
        repo: Path, cli, monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    from deksdenflow.workflow.lifecycle import detail

    cli("init", cwd=repo)

    def broken(*_args: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(detail, "show", broken)
    result = cli("show", "1", cwd=repo)
    assert result.exit_code == ExitCode.INTERNAL
    line = result.output.strip().splitlines()[-1]
    assert "internal error (ZeroDivisionError: a bug); the traceback is in " in line
    log = Path(line.split("the traceback is in ")[1].split(";")[0])
    assert log.is_relative_to(isolated_env) and "ZeroDivisionError" in log.read_text()
