"""The one git runner: hooks and fsmonitor off, a clean environment, timeouts, whole stderr."""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

import pytest

from deksdenflow.errors import DflowError, GitCommandFailed, GitNotFound, GitTimeout
from deksdenflow.git import runner as git
from tests.conftest import make_repo
from tests.engines.conftest import pid_is_gone


def test_a_failure_keeps_all_of_gits_stderr(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    with pytest.raises(GitCommandFailed) as caught:
        git.run(repo, "fetch", str(tmp_path / "gone"))
    message = str(caught.value)
    assert isinstance(caught.value, DflowError)
    assert "does not appear to be a git repository" in message  # first line, not only the last
    assert "and the repository exists." in message
    assert f"in {repo}" in message
    assert caught.value.returncode == 128 and "Could not read" in caught.value.stderr


def test_an_inherited_git_dir_does_not_redirect_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, other = make_repo(tmp_path / "mine"), make_repo(tmp_path / "other", {"o.txt": "o"})
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    listed = git.run(mine, "ls-files").stdout.split()
    assert listed == ["README.md"]


def test_hooks_and_fsmonitor_are_off_unless_asked(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    marker = tmp_path / "ran"
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\ntouch '{marker}'\n")
    hook.chmod(0o755)
    monitor = repo / "monitor.sh"
    monitor.write_text(f"#!/bin/sh\ntouch '{marker}.fsmonitor'\n")
    monitor.chmod(0o755)
    subprocess.run(["git", "config", "core.fsmonitor", str(monitor)], cwd=repo, check=True)
    (repo / "a.txt").write_text("a")
    git.run(repo, "status", "--porcelain")
    git.run(repo, "add", "-A")
    git.run(repo, "commit", "-q", "-m", "one")
    assert not marker.exists() and not Path(f"{marker}.fsmonitor").exists()
    (repo / "b.txt").write_text("b")
    git.run(repo, "add", "-A")
    git.run(repo, "commit", "-q", "-m", "two", hooks=True)
    assert marker.exists() and not Path(f"{marker}.fsmonitor").exists()


def test_background_gc_runs_no_pre_auto_gc_hook(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    marker = tmp_path / "ran"
    hook = repo / ".git" / "hooks" / "pre-auto-gc"
    hook.write_text(f"#!/bin/sh\ntouch '{marker}'\n")
    hook.chmod(0o755)
    subprocess.run(["git", "config", "gc.auto", "1"], cwd=repo, check=True)
    for text in _blobs_in_fanout_17(3):  # git estimates loose objects from objects/17
        subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=text,
                       text=True, check=True, capture_output=True)
    git.run(None, "gc", "--auto", "--quiet", git_dir=repo / ".git")
    assert not marker.exists()
    subprocess.run(["git", "gc", "--auto", "--quiet"], cwd=repo, check=True)
    assert marker.exists()  # plain git does run it: the test can fail


def _blobs_in_fanout_17(count: int) -> list[str]:
    found, n = [], 0
    while len(found) < count:
        text = f"blob {n}\n"
        if hashlib.sha1(f"blob {len(text)}\0{text}".encode()).hexdigest().startswith("17"):
            found.append(text)
        n += 1
    return found


def test_binary_output_comes_back_as_bytes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"bin.dat": "\x00\xff-é"})
    blob = git.run(repo, "rev-parse", "HEAD:bin.dat").stdout.strip()
    assert git.run_bytes(repo, "cat-file", "blob", blob).stdout == "\x00\xff-é".encode()
    batch = git.run_bytes(repo, "cat-file", "--batch-check", input=blob.encode() + b"\n")
    assert batch.stdout.split()[1:] == [b"blob", str(len("\x00\xff-é".encode())).encode()]


def test_a_hung_git_is_stopped_at_its_timeout_with_its_children(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    pid_file = tmp_path / "editor.pid"
    started = time.monotonic()
    with pytest.raises(GitTimeout, match="did not finish within 0.5s"):
        # An editor that never returns stands in for a hung fetch's ssh.
        git.run(repo, "-c", f"core.editor=echo $$ > '{pid_file}'; exec sleep 30; :",
                "commit", "--allow-empty", timeout=0.5)
    assert time.monotonic() - started < 10
    editor = int(pid_file.read_text())
    deadline = time.monotonic() + 5  # SIGKILL is delivered, not instant
    while not pid_is_gone(editor) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pid_is_gone(editor)


def test_git_missing_from_path_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GitNotFound, match="git is not on PATH; install git"):
        git.run(tmp_path, "status")
    assert git.version() is None


def test_stderr_in_the_error_is_redacted(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    token = "ghp_" + "A1" * 18
    with pytest.raises(GitCommandFailed) as caught:
        git.run(repo, "rev-parse", "--verify", f"refs/heads/{token}")
    assert token not in str(caught.value)
