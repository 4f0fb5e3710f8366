"""User-facing errors: each message says what is wrong and what to do about it."""

from __future__ import annotations


class DflowError(Exception):
    """Something the user can act on; the CLI prints it as one line and exits 1."""

    exit_code = 1


class UsageError(DflowError):
    """The command line itself is wrong (exit 2)."""

    exit_code = 2


class NotAGitRepository(DflowError):
    pass


class NotInitialized(DflowError):
    pass


class StateCorrupt(DflowError):
    pass


class NewerSchema(DflowError):
    pass


class RunNotFound(DflowError):
    pass


class StepNotFound(DflowError):
    pass


class InvalidName(UsageError):
    pass


class NameClash(DflowError):
    pass


class IllegalTransition(DflowError):
    pass


class ConfigError(DflowError):
    pass


class LockTimeout(DflowError):
    pass


class EngineError(DflowError):
    pass


class GitOperationError(DflowError):
    pass
