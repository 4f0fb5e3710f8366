"""The agent's keeper (Linux): a small process between dflow and the agent that outlives
every process the agent starts, and so can end them all
(docs/decisions/1531-no-agent-process-outlives-its-step.md).

dflow runs `python -I -S keeper.py GRACE ARGV...`. The keeper makes itself a child subreaper
(PR_SET_CHILD_SUBREAPER): a process of the agent whose parent exits, even one that called
`setsid` and forked twice, becomes the keeper's child instead of init's. It starts the agent
in a session of its own with no signal blocked and every disposition at its default (dflow's
deferred-interrupt section blocks SIGINT/SIGTERM while it starts the keeper), waits for it,
then kills whatever the agent left behind and exits with the agent's status, so dflow's pipes
close when the last process of the agent is gone.

SIGTERM/SIGINT/SIGHUP (dflow's timeout or a stopping worker; also dflow dying, through
PR_SET_PDEATHSIG): SIGTERM to every process of the agent, SIGKILL to all after GRACE
seconds. SIGUSR1: SIGKILL to all at once. Standard library only, imported by nothing: it
starts in a few milliseconds.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
FAILED_TO_START = 127
PREFIX = "dflow-keeper:"
STOPS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1}


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl")


def _children() -> list[int]:
    """The keeper's children right now (orphans of the agent land here)."""
    me, found = os.getpid(), []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            found.append(int(name))
    return found


def _descendants() -> list[int]:
    """Every process below the keeper, from a snapshot of /proc."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as stat:
                    parents[int(name)] = int(stat.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    below, frontier = [], [os.getpid()]
    while frontier:
        parent = frontier.pop()
        kids = [pid for pid, ppid in parents.items() if ppid == parent]
        below += kids
        frontier += kids
    return below


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, sig)


def _kill_all() -> None:
    """SIGKILL every process below the keeper until none is left: a killed process's own
    children are re-parented to the keeper (a subreaper) and found on the next round."""
    while True:
        _signal(_descendants(), signal.SIGKILL)
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def _start(argv: list[str]) -> int:
    pid = os.fork()
    if pid:
        return pid
    try:  # the agent: its own session, nothing blocked, every signal at its default
        os.setsid()
        for sig in range(1, signal.NSIG):
            if sig not in (signal.SIGKILL, signal.SIGSTOP):
                with contextlib.suppress(OSError, ValueError):
                    signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        os.execv(argv[0], argv)
    except OSError as exc:
        os.write(2, f"{PREFIX} could not start {argv[0]} ({exc.strerror})\n".encode())
    os._exit(FAILED_TO_START)


def _wait(agent: int, grace: float) -> int:
    """Reap children until the agent exits (its wait status) or dflow asks to stop."""
    watched = {signal.SIGCHLD, *STOPS}
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            pid, status = 0, 0
        if pid == agent:
            return status
        if pid:
            continue
        info = signal.sigtimedwait(watched, 1.0)
        if info is not None and info.si_signo in STOPS:
            return _stop(info.si_signo, grace, agent)


def _stop(sig: int, grace: float, agent: int) -> int:
    if sig != signal.SIGUSR1:
        _signal(_descendants(), signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                pid, status = os.waitpid(agent, os.WNOHANG)
            except ChildProcessError:
                break
            if pid:
                return status
            time.sleep(0.05)
    return signal.SIGKILL  # as `waitpid` reports a process killed by SIGKILL


def main(args: list[str]) -> None:
    grace, argv = float(args[0]), args[1:]
    parent = os.getppid()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD, *STOPS})
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # dflow died before the line above: nothing to run for
        sys.exit(FAILED_TO_START)
    agent = _start(argv)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # dflow's pipes close when the agent's last process closes them
        os.dup2(devnull, fd)
    status = _wait(agent, grace)
    _kill_all()
    if os.WIFSIGNALED(status):  # dflow sees the agent's own death: `returncode` -N
        sig = os.WTERMSIG(status)
        if sig != signal.SIGKILL:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        os.kill(os.getpid(), sig)
    sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else FAILED_TO_START)


if __name__ == "__main__":
    main(sys.argv[1:])
