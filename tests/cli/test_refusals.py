"""Bad input gets one clear sentence, the right exit code and no change (issue 12 item 5)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from deksdenflow.exit_codes import ExitCode


def _dflow(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The real `dflow` process with no terminal: stdin is /dev/null, stdout/stderr pipes."""
    return subprocess.run([sys.executable, "-m", "deksdenflow.cli.main", *args], cwd=cwd,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def test_console_without_a_terminal_says_so_and_exits_2_without_escape_codes(repo: Path,
                                                                             cli) -> None:
    assert cli("init", "--engine", "demo", cwd=repo).exit_code == 0
    out = _dflow("console", cwd=repo, timeout=30)  # before: escape codes, and it never ended
    assert out.returncode == ExitCode.USAGE
    assert out.stdout == "" and "\x1b" not in out.stderr
    assert out.stderr.strip() == (
        "error: dflow console needs a terminal (standard input and output are not one); run it "
        "in a terminal, or use `dflow status` / `dflow show RUN` in scripts")


def test_console_without_a_terminal_refuses_before_looking_for_a_project(tmp_path: Path,
                                                                         cli) -> None:
    result = cli("console", cwd=tmp_path)  # the test runner's stdout is not a terminal either
    assert result.exit_code == ExitCode.USAGE
    assert "dflow console needs a terminal" in result.output


def _refs(path: Path) -> str:
    return subprocess.run(["git", "for-each-ref"], cwd=path, capture_output=True, text=True,
                          check=True).stdout


def _config(path: Path) -> str:
    return subprocess.run(["git", "config", "--list", "--local"], cwd=path, capture_output=True,
                          text=True, check=True).stdout


def test_init_in_a_bare_repository_refuses_and_writes_nothing(tmp_path: Path, cli,
                                                              isolated_env: Path) -> None:
    bare = tmp_path / "shared.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    config = _config(bare)
    result = cli("init", "--engine", "demo", cwd=bare)
    assert result.exit_code == ExitCode.FAILED
    assert result.output.strip() == (
        f"error: {bare.resolve()} is a bare repository (no working tree for run branches); "
        f"clone it (git clone {bare.resolve()} WORKDIR) and run `dflow init` in the clone")
    assert _refs(bare) == "" and _config(bare) == config
    assert not (isolated_env / ".config" / "dflow").exists()  # not registered either


def test_init_with_a_base_branch_that_does_not_exist_refuses_and_writes_nothing(
        repo: Path, cli, isolated_env: Path) -> None:
    before = _refs(repo)
    result = cli("init", "--engine", "demo", "--base", "mian", cwd=repo)
    assert result.exit_code == ExitCode.USAGE
    assert result.output.strip() == (
        "error: there is no branch 'mian' in this repository or its remotes (branches: main); "
        "pass --base with one of them, or create the branch first")
    assert _refs(repo) == before
    assert not (isolated_env / ".config" / "dflow").exists()


def test_init_accepts_a_base_that_only_the_remote_has_or_one_without_commits_yet(
        tmp_path: Path, repo: Path, cli) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "branch", "develop"], cwd=repo, check=True)
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    assert cli("init", "--engine", "demo", "--base", "develop", cwd=clone).exit_code == 0
    fresh = tmp_path / "fresh"
    subprocess.run(["git", "init", "-q", "-b", "trunk", str(fresh)], check=True)
    assert cli("init", "--engine", "demo", cwd=fresh).exit_code == 0  # decision 0004
