"""Running an agent's command line: the one place the subprocess engines start processes.

Each engine builds its argv; this module finds the binary, runs it in its own process group
with the prompt on stdin, kills the whole group on timeout (agents start shells, test runners,
language servers: killing only the parent would leave them running), and turns a missing
binary, a timeout or a non-zero exit into an EngineError carrying the transcript.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..domain import correlation, interrupts
from ..errors import EngineFailed, EngineNotFound, EngineTimeout
from . import streams
from .keeper import FAILED_TO_START, PREFIX

TRY_DEMO = "use --engine demo to try dflow without an agent"
KILL_GRACE_S = 5.0  # time between SIGTERM and SIGKILL, so an agent can stop its own children
PIPE_GRACE_S = 2.0  # after the agent exits, how long its pipes may stay open (background jobs)
WAIT_SLICE_S = 0.5  # how often to look whether the agent itself has exited
STDERR_TAIL = 400  # characters of stderr quoted in an error message
# Linux: every agent runs under a keeper, a child subreaper that ends every process the agent
# started, setsid and double-forked ones too (engines/keeper.py; decision 1531). Elsewhere
# the agent's process group is killed, and the late-write check stands behind it.
KEEPER = Path(__file__).with_name("keeper.py")
KEEPER_ON = sys.platform.startswith("linux")
KEEPER_MARGIN_S = 5.0  # beyond KILL_GRACE_S, how long dflow waits for the keeper's sweep


@dataclass(frozen=True)
class Completed:
    """A finished process: exit status, what it printed, how long it took."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    duration_s: float

    def transcript(self) -> str:
        return format_transcript(self.argv, self.stdout, self.stderr, self.returncode)


def format_transcript(argv: Sequence[str], stdout: str, stderr: str, returncode: int | None) -> str:
    """Command line, stdout and stderr in one text (raw: the caller redacts before storing)."""
    status = "killed" if returncode is None else f"exit {returncode}"
    return (
        f"$ {shlex.join(argv)}\n--- stdout ---\n{stdout}\n"
        f"--- stderr ---\n{stderr}\n--- {status} ---\n"
    )


def resolve_binary(binary: str, engine: str, path: str | None = None) -> str:
    """The executable for `binary` (a name looked up on PATH, or a path), or EngineNotFound."""
    found = shutil.which(os.path.expanduser(binary), path=path)
    if found is None:
        raise EngineNotFound(
            f"engine '{engine}' needs the `{binary}` command, which is not on PATH; install it, "
            f"set [engines.{engine}] options.binary to its path, or {TRY_DEMO}"
        )
    return found


def run_process(
    argv: Sequence[str],
    *,
    engine: str,
    cwd: Path,
    timeout_s: float,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> Completed:
    """Run argv to completion; EngineTimeout after `timeout_s`, EngineFailed on a non-zero exit."""
    argv = list(argv)
    ids = correlation.env()  # DFLOW_JOB_ID and friends: the agent's logs can be joined
    if ids:
        env = {**(env if env is not None else os.environ), **ids}
    argv[0] = resolve_binary(argv[0], engine, path=(env or os.environ).get("PATH"))
    if not cwd.is_dir():
        raise EngineFailed(f"engine '{engine}' cannot run in {cwd}: no such directory")
    start = time.monotonic()
    proc: subprocess.Popen[str] | None = None
    reader: streams.Reader | None = None
    interrupt = interrupts.current()
    try:
        with _interrupts_deferred():  # a Ctrl-C now must not leave an agent nobody kills
            proc = _spawn(argv, cwd, env, stdin, engine)
        _obey(interrupt, proc)
        reader = streams.Reader(proc.stdin, stdin, proc.stdout, proc.stderr)
        stdout, stderr = _wait(proc, reader, start + timeout_s)
    except subprocess.TimeoutExpired:
        assert proc is not None and reader is not None
        stdout, stderr = _kill_group(proc, reader)
        raise EngineTimeout(
            f"engine '{engine}' did not finish within {timeout_s:g} s and was killed; raise "
            f"[engines.{engine}] timeout or make the task smaller",
            transcript=format_transcript(argv, stdout, stderr, None),
        ) from None
    except BaseException:  # Ctrl-C, SIGTERM turned into one, a stopping worker: no orphans
        if proc is not None:
            _kill_now(proc)
        raise
    finally:
        if interrupt is not None and proc is not None:
            interrupt.forget(proc.pid)
    if interrupt is not None and interrupt.fired:
        raise interrupts.Interrupted(f"engine '{engine}' was stopped: dflow is closing")
    done = Completed(argv, proc.returncode, stdout, stderr, time.monotonic() - start)
    unstarted = not_started(engine, done)
    if unstarted is not None:
        raise EngineFailed(unstarted, transcript=done.transcript())
    if check and done.returncode != 0:
        raise EngineFailed(exit_message(engine, done), transcript=done.transcript())
    return done


def _obey(interrupt: interrupts.Interrupt | None, proc: subprocess.Popen[str]) -> None:
    """Let `interrupt` (the console quitting) kill the agent's whole group, now or later."""
    if interrupt is None:
        return

    def kill() -> None:
        _kill_now(proc, wait=False)

    if not interrupt.watch(proc.pid, kill):
        kill()  # it fired while the agent was starting


def _spawn(argv: list[str], cwd: Path, env: Mapping[str, str] | None, stdin: str | None,
           engine: str) -> subprocess.Popen[str]:
    try:
        return _start(argv, cwd, env, with_stdin=stdin is not None)
    except OSError as exc:  # not runnable after all: no shebang, wrong architecture, ...
        raise EngineFailed(_not_started(engine, argv[0], exc.strerror or str(exc))) from None


def _not_started(engine: str, binary: str, why: str) -> str:
    return f"engine '{engine}' could not start {binary} ({why}); check [engines.{engine}] options"


def not_started(engine: str, done: Completed) -> str | None:
    """The keeper's report that the agent's binary could not be executed, as a sentence."""

    if not KEEPER_ON or done.returncode != FAILED_TO_START:
        return None
    for line in done.stderr.splitlines():
        if line.startswith(f"{PREFIX} could not start "):
            binary, _, why = line.removeprefix(f"{PREFIX} could not start ").rpartition(" (")
            return _not_started(engine, binary, why.rstrip(")"))
    return None


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM while the agent starts; they are delivered once `proc` exists and
    the caller is inside the block that kills the agent's group."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def exit_message(engine: str, done: Completed, detail: str = "") -> str:
    """One sentence for a non-zero exit, quoting the engine's own words when it gave any."""
    said = detail or _tail(done.stderr) or _tail(done.stdout)
    reason = f": {said}" if said else ""
    return f"engine '{engine}' exited with status {done.returncode}{reason}"


def _tail(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return last if len(last) <= STDERR_TAIL else "…" + last[-STDERR_TAIL:]


def _start(
    argv: list[str], cwd: Path, env: Mapping[str, str] | None, *, with_stdin: bool
) -> subprocess.Popen[str]:
    if KEEPER_ON:
        argv = [sys.executable, "-I", "-S", str(KEEPER), f"{KILL_GRACE_S:g}", *argv]
    return subprocess.Popen(  # noqa: S603 - argv built by the engine, never through a shell
        argv,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.PIPE if with_stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,  # its own process group, so a timeout can kill all of it
        # Nothing blocked or ignored in the agent: the keeper restores both on Linux.
        preexec_fn=None if KEEPER_ON or os.name != "posix" else _default_signals,
    )


def _default_signals() -> None:
    """In the child before exec (no keeper): the default mask and dispositions, not those of
    dflow's deferred-interrupt section or of a shell that started dflow in the background."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)


def _wait(proc: subprocess.Popen[str], reader: streams.Reader,
          deadline: float) -> tuple[str, str]:
    """Let `reader` feed stdin and read both pipes (head and tail kept: engines/streams.py)
    until the agent is done; TimeoutExpired at the deadline.

    Done means its pipes closed, or the agent itself exited and PIPE_GRACE_S passed: a
    background process it started (`server &`) may hold the pipes open for ever, and must not
    turn a finished run into a timeout. Such leftovers are killed with the group.
    """
    exited_at: float | None = None
    while True:
        now = time.monotonic()
        if now >= deadline:
            raise subprocess.TimeoutExpired(proc.args, 0)
        if exited_at is None and proc.poll() is not None:
            exited_at = now
        if exited_at is not None and now - exited_at >= PIPE_GRACE_S:
            _end_leftovers(proc)
            return _drain(proc, reader)
        if not reader.wait(min(WAIT_SLICE_S, deadline - now)):
            continue
        try:  # its pipes are closed; it may still run (the deadline still holds)
            proc.wait(timeout=max(0.0, min(WAIT_SLICE_S, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            continue
        _end_leftovers(proc)  # background children it left behind
        return reader.texts()


def _drain(proc: subprocess.Popen[str], reader: streams.Reader) -> tuple[str, str]:
    """What is left in the pipes once the group is dead; partial if a process escaped it
    (a descendant that left the group still holds a pipe: its reader thread is abandoned)."""
    reader.wait(KILL_GRACE_S)
    proc.wait()
    return reader.texts()


def _end_leftovers(proc: subprocess.Popen[str]) -> None:
    """The agent is done: end what it left running. The keeper does that itself before it
    exits; never SIGKILL it mid-sweep (an orphan would escape to init)."""
    if KEEPER_ON and _keeper_exits(proc, KILL_GRACE_S + KEEPER_MARGIN_S):
        return
    _signal_group(proc.pid, signal.SIGKILL)


def _keeper_exits(proc: subprocess.Popen[str], within: float) -> bool:
    try:
        proc.wait(timeout=within)
    except subprocess.TimeoutExpired:
        return False
    return True


def _kill_now(proc: subprocess.Popen[str], wait: bool = True) -> None:
    """Every process of the agent, at once (an interrupt, a stopping worker)."""
    if KEEPER_ON:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGUSR1)
        if not wait or _keeper_exits(proc, KEEPER_MARGIN_S):
            return
    _signal_group(proc.pid, signal.SIGKILL)
    if wait:
        proc.wait()


def _kill_group(proc: subprocess.Popen[str], reader: streams.Reader) -> tuple[str, str]:
    """SIGTERM the process group, SIGKILL it after a grace period; return what was printed.
    Under the keeper: SIGTERM it; it passes that on and SIGKILLs all after the grace."""
    if KEEPER_ON:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        if _keeper_exits(proc, KILL_GRACE_S + KEEPER_MARGIN_S):
            reader.wait(KILL_GRACE_S)
            return reader.texts()
        # the keeper itself is stuck: the group, as without one
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    else:
        _signal_group(proc.pid, signal.SIGKILL)  # the leader is gone; so must be its group
        reader.wait(KILL_GRACE_S)
        return reader.texts()
    _signal_group(proc.pid, signal.SIGKILL)
    return _drain(proc, reader)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
