"""No agent process outlives its step (issue 23): the agent starts with nothing blocked, and at
its end, timeout or interrupt every process it started is gone, setsid daemons included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from deksdenflow.domain import interrupts
from deksdenflow.engines import process
from deksdenflow.engines.process import run_process
from deksdenflow.errors import EngineFailed, EngineTimeout

from .test_process import wait_gone

linux = pytest.mark.skipif(not process.KEEPER_ON, reason="the keeper is Linux's (decision 1531)")

# Forks twice, the middle one calls setsid and exits: the daemon is re-parented away from the
# agent and sits in a session of its own, writing its pid and then a heartbeat file.
DAEMON = """
import os, sys, time
out = sys.argv[1]
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for fd in (0, 1, 2):
            os.close(fd)
        with open(out + ".pid", "w") as f:
            f.write(str(os.getpid()))
        while True:
            with open(out, "a") as f:
                f.write("beat\\n")
            time.sleep(0.05)
    os._exit(0)
os.wait()
while not os.path.exists(out + ".pid"):
    time.sleep(0.01)
"""


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process, "PIPE_GRACE_S", 0.3)
    monkeypatch.setattr(process, "WAIT_SLICE_S", 0.1)
    monkeypatch.setattr(process, "KILL_GRACE_S", 0.5)


def _daemon(tmp_path: Path) -> tuple[list[str], Path]:
    beat = tmp_path / "beat"
    return [sys.executable, "-c", DAEMON, str(beat)], beat


def _stopped(beat: Path) -> bool:
    pid = int(Path(f"{beat}.pid").read_text())
    if not wait_gone(pid):
        os.kill(pid, signal.SIGKILL)  # do not leave it behind when the test fails
        return False
    size = beat.stat().st_size
    time.sleep(0.2)
    return beat.stat().st_size == size


@linux
def test_a_double_forked_setsid_daemon_dies_with_the_step(tmp_path: Path, quick: None) -> None:
    argv, beat = _daemon(tmp_path)
    done = run_process(argv, engine="e", cwd=tmp_path, timeout_s=60)
    assert done.returncode == 0
    assert _stopped(beat), "the daemon outlived its step"


@linux
def test_a_daemon_dies_when_the_agent_times_out(tmp_path: Path, quick: None) -> None:
    beat = tmp_path / "beat"
    argv = [sys.executable, "-c", DAEMON + "\ntime.sleep(60)\n", str(beat)]
    with pytest.raises(EngineTimeout):
        run_process(argv, engine="e", cwd=tmp_path, timeout_s=3)  # time to start, under load
    assert _stopped(beat)


@linux
def test_a_daemon_dies_when_dflow_is_interrupted(tmp_path: Path, quick: None) -> None:
    argv = [sys.executable, "-c", DAEMON + "\ntime.sleep(60)\n", str(tmp_path / "beat")]
    interrupt = interrupts.Interrupt()

    def fire_once_started() -> None:  # the console quitting while the daemon runs
        deadline = time.monotonic() + 30
        while not (tmp_path / "beat.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        interrupt.fire()

    threading.Thread(target=fire_once_started, daemon=True).start()
    with interrupts.bound(interrupt), pytest.raises(interrupts.Interrupted):
        run_process(argv, engine="e", cwd=tmp_path, timeout_s=60)
    assert _stopped(tmp_path / "beat")


@pytest.mark.parametrize("keeper", [True, False])
def test_the_agent_starts_with_no_signal_blocked_or_ignored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keeper: bool) -> None:
    monkeypatch.setattr(process, "KEEPER_ON", process.KEEPER_ON and keeper)  # off: other OSes
    script = ("grep -E '^Sig(Blk|Ign)' /proc/self/status" if sys.platform.startswith("linux")
              else "true")
    old = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as `nohup dflow worker` has it
    try:
        done = run_process(["sh", "-c", script], engine="e", cwd=tmp_path, timeout_s=30)
    finally:
        signal.signal(signal.SIGHUP, old)
    if sys.platform.startswith("linux"):
        masks = dict(line.split(":\t") for line in done.stdout.splitlines())
        assert int(masks["SigBlk"], 16) == 0, done.stdout  # SIGINT/SIGTERM were blocked before
        assert int(masks["SigIgn"], 16) & (1 << (signal.SIGHUP - 1)) == 0, done.stdout


def test_a_timeout_sigterm_reaches_the_agent_and_its_children(tmp_path: Path,
                                                              quick: None) -> None:
    # With SIGTERM blocked the agent never saw it: it could not stop its own children.
    trap = tmp_path / "trapped"
    script = f"trap 'echo term > {trap}; exit 0' TERM; sleep 60 & wait"
    with pytest.raises(EngineTimeout):
        run_process(["sh", "-c", script], engine="e", cwd=tmp_path, timeout_s=2)
    assert trap.read_text().strip() == "term"


def test_a_binary_that_cannot_run_is_still_one_sentence(tmp_path: Path) -> None:
    agent = tmp_path / "agent"
    agent.write_text("no shebang here\n")
    agent.chmod(0o755)
    with pytest.raises(EngineFailed, match=r"could not start .*agent \(Exec format error\)"):
        run_process([str(agent)], engine="e", cwd=tmp_path, timeout_s=30)


@linux
def test_a_daemon_dies_when_dflow_itself_is_killed(tmp_path: Path) -> None:
    # SIGKILL of the process running the agent (a worker killed at a random moment): the
    # keeper is told by the kernel (PR_SET_PDEATHSIG) and ends the agent's processes.
    beat = tmp_path / "beat"
    runner = (
        "import sys\nfrom pathlib import Path\n"
        "from deksdenflow.engines.process import run_process\n"
        f"run_process([sys.executable, '-c', {DAEMON + 'time.sleep(60)'!r}, {str(beat)!r}],"
        f" engine='e', cwd=Path({str(tmp_path)!r}), timeout_s=60)\n")
    dflow = subprocess.Popen([sys.executable, "-c", runner])
    try:
        deadline = time.monotonic() + 30
        while not Path(f"{beat}.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(dflow.pid, signal.SIGKILL)
    finally:
        dflow.wait()
    assert _stopped(beat), "the daemon outlived the dflow process that ran its agent"
