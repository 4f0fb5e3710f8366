"""User-facing errors: each message says what is wrong and what to do about it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .exit_codes import ExitCode


class DflowError(Exception):
    """Something the user can act on; the CLI prints it as one line and exits 1."""

    exit_code: int = ExitCode.FAILED
    # A job that fails with a permanent error is not retried: the step waits for a person.
    permanent = False


class UsageError(DflowError):
    """The command line itself is wrong (exit 2)."""

    exit_code: int = ExitCode.USAGE


def did_you_mean(word: str, choices: Iterable[str] | Mapping[str, str]) -> str:
    """` (did you mean 'X'?)` for a near miss among `choices` (a mapping: of its keys, naming
    the value), else ""; the one wording of a suggestion (run names, engines, config keys,
    projects)."""
    import difflib  # why: start-up

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close:
        return ""
    found = choices[close[0]] if isinstance(choices, Mapping) else close[0]
    return f" (did you mean '{found}'?)"


class NotAGitRepository(DflowError):
    pass


class DubiousOwnership(NotAGitRepository):
    """The repository belongs to another user and is not in git's `safe.directory`."""


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


class NoTerminal(UsageError):
    """A full-screen command was started without a terminal (a pipe, CI, cron)."""


class NameClash(DflowError):
    pass


class IllegalTransition(DflowError):
    pass


class ConfigError(DflowError):
    """Bad configuration: retrying cannot help, so a job failing with it blocks at once."""

    permanent = True


class LockTimeout(DflowError):
    pass


class EngineError(DflowError):
    """An engine attempt failed; `transcript` keeps what the engine printed (raw, unredacted)."""

    def __init__(self, message: str, *, transcript: str = "") -> None:
        super().__init__(message)
        self.transcript = transcript


class EngineNotFound(EngineError):
    """The engine's binary or endpoint is not there."""

    permanent = True


class EngineTimeout(EngineError):
    """The engine ran past its timeout and was killed."""


class EngineFailed(EngineError):
    """The engine exited non-zero or reported an error."""


class EngineRefused(EngineFailed):
    """The engine refused the request itself (its output schema, key or model): the same
    request is refused again, so the attempt is not retried (decision 0830)."""

    permanent = True


class EngineOutputInvalid(EngineError):
    """The engine's final output is missing or fails the requested schema."""


class GitOperationError(DflowError):
    pass


class GitCommandFailed(GitOperationError):
    """A git command dflow ran exited non-zero; `stderr` is all git said (unredacted)."""

    def __init__(self, message: str, *, args: tuple[str, ...] = (), returncode: int = 1,
                 stderr: str = "", timeout_s: float = 0.0) -> None:
        super().__init__(message)
        self.git_args = args
        self.returncode = returncode
        self.stderr = stderr
        self.timeout_s = timeout_s


class GitTimeout(GitCommandFailed):
    """A git command ran past its timeout; it was killed with its children."""


class GitNotFound(GitOperationError):
    """git is not installed or not on PATH."""


class AgentOutputError(EngineOutputInvalid):
    """An agent's output broke its contract (schema, file names, verdict)."""


class BudgetExceeded(DflowError):
    pass


class WorktreeDirty(DflowError):
    """A run's worktree holds changes no agent of this job made (the user's, or leftovers)."""

    permanent = True


class UnsafePath(DflowError):
    """A protocol path is a symbolic link: dflow never reads or writes through one."""

    permanent = True


class CommitRefused(DflowError):
    """A file the agent left must never be committed (secret-looking, oversized, a gitlink)."""

    permanent = True


class LandConflict(DflowError):
    """The base moved under the run in a conflicting way; the files are named."""

    def __init__(self, message: str, files: list[str]) -> None:
        super().__init__(message)
        self.files = files


class NotTrusted(DflowError):
    """Settings from origin were shown and not trusted here (`dflow trust` without a yes)."""
