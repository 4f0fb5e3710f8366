"""`dflow doctor` says whether Claude Code's sandbox can work here and what to install."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from deksdenflow.context.project import Project


def _only(tmp_path: Path, *tools: str) -> str:
    """A PATH holding just these tools (and a stand-in `claude`)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        assert found is not None, tool
        os.symlink(found, bin_dir / tool)
    claude = bin_dir / "claude"
    claude.write_text("#!/bin/sh\necho '2.1.337 (Claude Code)'\n")
    claude.chmod(0o755)
    return str(bin_dir)


def test_doctor_names_bubblewrap_and_socat_when_claude_runs_without_them(
    project: Project, repo: Path, cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    assert cli("config", "set", "phases.execute", "claude", cwd=repo).exit_code == 0
    monkeypatch.setenv("PATH", _only(tmp_path, "git"))

    result = cli("doctor", cwd=repo)

    line = next(x for x in result.output.splitlines() if "claude sandbox" in x)
    assert "bwrap and socat not on PATH" in line, result.output
    assert "apt-get install bubblewrap socat" in result.output
    assert result.exit_code == 1


def test_doctor_warns_when_a_project_runs_claude_without_its_sandbox(
    project: Project, repo: Path, cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    for key, value in (("phases.default", "claude"),
                       ("engines.claude.options.native_sandbox", "false")):
        assert cli("config", "set", key, value, cwd=repo).exit_code == 0
    monkeypatch.setenv("PATH", _only(tmp_path, "git"))

    result = cli("doctor", cwd=repo)

    lines = [x for x in result.output.splitlines() if "claude sandbox" in x]
    assert len(lines) == 1 and "unconfined" in lines[0], result.output


def test_doctor_says_when_bubblewrap_cannot_create_namespaces(
    project: Project, repo: Path, cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    assert cli("config", "set", "phases.execute", "claude", cwd=repo).exit_code == 0
    path = _only(tmp_path, "git")
    for tool, script in (("socat", "exit 0"),  # a kernel or container without user namespaces
                         ("bwrap", "echo 'bwrap: No permissions to create new namespace' >&2; "
                                   "exit 1")):
        (Path(path) / tool).write_text(f"#!/bin/sh\n{script}\n")
        (Path(path) / tool).chmod(0o755)
    monkeypatch.setenv("PATH", path)

    result = cli("doctor", cwd=repo)

    line = next(x for x in result.output.splitlines() if "claude sandbox" in x)
    assert "cannot create namespaces here: bwrap: No permissions to create new namespace" in line
    assert "user namespaces" in result.output and result.exit_code == 1
