"""The exit codes of `dflow`, in one place (docs/exit-codes.md, decision 0002/0900)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a caller of `dflow` sees; every command ends with one of these."""

    OK = 0  # done (a closed output pipe counts: the reader had enough)
    FAILED = 1  # the operation failed; the message says what and what to do
    USAGE = 2  # the command line is wrong
    INTERNAL = 3  # a bug in dflow; the traceback is in the crash log
    WAITING = 4  # the run waits for a person (blocked, needs approval)
    INTERRUPTED = 130  # Ctrl-C
