"""The subprocess runner every command-line engine shares: real processes, real signals."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from deksdenflow.engines import process
from deksdenflow.engines.process import run_process
from deksdenflow.errors import EngineFailed

from .conftest import pid_is_gone


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shorter grace periods, so the tests that wait them out stay fast."""
    monkeypatch.setattr(process, "PIPE_GRACE_S", 0.3)
    monkeypatch.setattr(process, "WAIT_SLICE_S", 0.1)
    monkeypatch.setattr(process, "KILL_GRACE_S", 0.5)


def wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + 10  # reaping is asynchronous: a wait, not a timing check
    while not pid_is_gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return pid_is_gone(pid)


def test_a_background_job_holding_stdout_does_not_turn_success_into_a_timeout(
    workdir: Path, quick: None
) -> None:
    # `sleep &` inherits stdout, so the pipe stays open after the agent itself has exited.
    done = run_process(["sh", "-c", "sleep 120 & echo $!"], engine="e", cwd=workdir, timeout_s=60)

    assert done.returncode == 0
    assert wait_gone(int(done.stdout.strip())), "the background job outlived the agent"


def test_a_process_that_left_the_group_cannot_hang_the_engine(workdir: Path, quick: None) -> None:
    script = "setsid sleep 120 & echo $!; echo started"

    done = run_process(["sh", "-c", script], engine="e", cwd=workdir, timeout_s=60)

    escaped, said = done.stdout.split()
    assert said == "started" and done.returncode == 0
    if not process.KEEPER_ON:  # out of a process group's reach: clean up after the test
        os.kill(int(escaped), signal.SIGKILL)
    assert wait_gone(int(escaped))  # Linux: the keeper ended it too (test_lifetime.py)


def test_a_big_prompt_to_an_agent_that_never_reads_it(workdir: Path) -> None:
    done = run_process(["true"], engine="e", cwd=workdir, timeout_s=60, stdin="x" * 1_000_000)

    assert done.returncode == 0


def test_output_larger_than_a_pipe_buffer_is_read_whole(workdir: Path) -> None:
    code = "import sys; sys.stdout.write('y' * 3_000_000); sys.stderr.write('z' * 300_000)"

    done = run_process([sys.executable, "-c", code], engine="e", cwd=workdir, timeout_s=60)

    assert (len(done.stdout), len(done.stderr)) == (3_000_000, 300_000)


def test_prompt_reaches_stdin_intact(workdir: Path) -> None:
    prompt = "line one\nünïcödé ✓\n" * 5000
    code = "import sys; sys.stdout.write(sys.stdin.read())"

    done = run_process(
        [sys.executable, "-c", code], engine="e", cwd=workdir, timeout_s=60, stdin=prompt
    )

    assert done.stdout == prompt


def test_a_missing_working_directory_is_an_engine_error(tmp_path: Path) -> None:
    with pytest.raises(EngineFailed, match=r"cannot run in .*gone: no such directory"):
        run_process(["true"], engine="e", cwd=tmp_path / "gone", timeout_s=5)


def test_non_zero_exit_quotes_the_last_stderr_line_and_keeps_the_transcript(
    workdir: Path,
) -> None:
    code = "import sys; print('working'); print('warn', file=sys.stderr); sys.exit('boom')"

    with pytest.raises(EngineFailed, match=r"^engine 'e' exited with status 1: boom$") as exc:
        run_process([sys.executable, "-c", code], engine="e", cwd=workdir, timeout_s=60)

    assert "working" in exc.value.transcript and "--- exit 1 ---" in exc.value.transcript


def test_a_binary_that_cannot_be_executed_is_an_engine_error(workdir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "agent"
    broken.write_bytes(b"\x7fELF-but-not-really")
    broken.chmod(0o755)

    with pytest.raises(EngineFailed, match=r"could not start .*agent \(Exec format error\)"):
        run_process([str(broken)], engine="e", cwd=workdir, timeout_s=5)
