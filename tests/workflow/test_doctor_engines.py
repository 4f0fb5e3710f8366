"""`dflow doctor` names each configured engine that cannot run, and exits 1; a repository
owned by another user gets git's safe.directory hint, not an internal error."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import make_repo


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _doctor_lines(cli, repo: Path) -> tuple[int, list[str]]:
    result = cli("doctor", cwd=repo)
    return result.exit_code, result.output.splitlines()


def test_doctor_fails_a_command_engine_without_a_command_line(repo: Path, cli) -> None:
    assert cli("init", "--engine", "command", "--yes", cwd=repo).exit_code == 0
    code, lines = _doctor_lines(cli, repo)
    assert code == 1
    assert "FAIL  planner     'command' cannot run: engine 'command' has no command line; " \
        "set [engines.command] options.command" in "\n".join(lines)
    assert not any(line.startswith("ok    planner") for line in lines)
    cli("config", "set", "engines.command.options.command", "true {prompt_file}", cwd=repo)
    code, lines = _doctor_lines(cli, repo)
    assert "ok    planner     command (command)" in lines and code == 0, lines


def test_doctor_fails_an_openai_engine_whose_server_is_down_within_seconds(repo: Path,
                                                                           cli) -> None:
    assert cli("init", "--engine", "demo", "--yes", cwd=repo).exit_code == 0
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    for key, value in (("engines.local.kind", "openai"), ("engines.local.model", "m"),
                       ("engines.local.options.base_url", url), ("phases.qa", "local")):
        assert cli("config", "set", key, value, cwd=repo).exit_code == 0
    started = time.monotonic()
    code, lines = _doctor_lines(cli, repo)
    assert time.monotonic() - started < 10
    assert code == 1
    text = "\n".join(lines)
    assert f"FAIL  reviewer    'local' cannot run: engine 'local' cannot reach {url}" in text
    assert "ok    planner     demo (demo)" in lines
    with socket.socket() as server:  # now it listens: doctor says ok
        server.bind(("127.0.0.1", int(url.split(":")[2].split("/")[0])))
        server.listen()
        code, lines = _doctor_lines(cli, repo)
    assert "ok    reviewer    local (openai)" in lines and code == 0, lines


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="giving a repository to another user needs root")
def test_a_repository_owned_by_another_user_gets_git_s_hint(tmp_path: Path, cli) -> None:
    repo = make_repo(tmp_path / "theirs")
    for root, dirs, files in os.walk(repo):
        for name in [*dirs, *files]:
            os.lchown(Path(root) / name, 12345, 12345)
    os.chown(repo, 12345, 12345)
    refused = subprocess.run(["git", "status"], cwd=repo, capture_output=True, text=True)
    assert "dubious ownership" in refused.stderr  # what git itself says here
    for args in (("doctor",), ("init", "--yes", "--engine", "demo"), ("status",)):
        result = cli(*args, cwd=repo)
        assert result.exit_code == 1, (args, result.output)
        assert f"git config --global --add safe.directory {repo}" in result.output, args
        assert "internal error" not in result.output
