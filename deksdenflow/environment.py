"""Every `DFLOW_*` environment variable dflow reads: named, typed, documented and validated in
one place (the table in docs/environment.md is tested against this one).

Values are read when they are used, never at import, so a long-lived process and a test see
the current environment; a value that does not parse is a `ConfigError` naming the variable.
The CLI checks them all before any command (`check_all`), so a typo fails at once, not deep
inside the one command that happens to read it. Settings overrides (`DFLOW_QA_POLICY`, …)
are validated with the settings (context/config.py); variables dflow *sets* for the engines
(`DFLOW_JOB_ID`, …) are domain/correlation.py's."""

from __future__ import annotations

import functools
import os
import sys
from types import MappingProxyType

from .errors import ConfigError

TYPE_CHECKING = False  # not typing's: the status fast path reads variables through here
if TYPE_CHECKING:
    from collections.abc import Mapping


class Variable:
    """One variable: its name, kind ("seconds" | "count" | "flag" | "text" | "path"), the
    default when unset, and what it does."""

    __slots__ = ("default", "help", "kind", "name")

    def __init__(self, name: str, kind: str, default: str, help: str) -> None:
        self.name, self.kind, self.default, self.help = name, kind, default, help


VARIABLES: tuple[Variable, ...] = (
    Variable("DFLOW_ACTOR", "text", "", "who the state ref's commits and events name "
             "(default user@host)"),
    Variable("DFLOW_CLONE_DIR", "path", "", "where `dflow projects add URL` clones (default "
             "the registry's clone_dir, else the user's data dir)"),
    Variable("DFLOW_CONFIG_FILE", "path", "", "the user config file (default "
             "<user config dir>/dflow/config.toml)"),
    Variable("DFLOW_DEBUG", "flag", "0", "1: tracebacks on stderr, like --debug"),
    Variable("DFLOW_ENGINE", "text", "", "the engine of every phase (phases.default), like "
             "--engine"),
    Variable("DFLOW_FSYNC", "flag", "0", "1: fsync the git dir on every state commit "
             "(power-loss durability, slower)"),
    Variable("DFLOW_GC_SAMPLE", "count", "27", "loose objects in one fan-out dir above which "
             "a background `git gc --auto` starts"),
    Variable("DFLOW_GIT_TIMEOUT", "seconds", "600", "the time limit of one git command "
             "(sync's fetch and push: 120 unless set)"),
    Variable("DFLOW_JOB_HANDLERS", "text", "", "comma-separated modules declaring HANDLERS "
             "(job kind -> handler) for the pool; for tests and plug-ins"),
    Variable("DFLOW_LOCK_TIMEOUT", "seconds", "120", "how long to wait for the state lock"),
    Variable("DFLOW_LOG_FORMAT", "text", "text", "text | json: the worker's, `run --wait`'s "
             "and `ci report`'s log lines, like --log-format"),
    Variable("DFLOW_OPENAI_API_KEY", "text", "", "the openai engine's key when "
             "OPENAI_API_KEY is not set (never stored or shown)"),
    Variable("DFLOW_OPENAI_BASE_URL", "text", "", "the openai engine's endpoint when the "
             "engine's base_url option is not set"),
    Variable("DFLOW_PROJECT_REMOTE", "text", "", "the remote `dflow ci report` pushes to "
             "(default project.remote)"),
    Variable("DFLOW_REF_LOCK_WAIT", "seconds", "10", "how long to wait out git's own lock "
             "on the state ref"),
    Variable("DFLOW_SERVE_TOKEN", "text", "", "the bearer token of `dflow serve` (default: "
             "one generated and kept in the git dir); required with a non-loopback --host"),
    Variable("DFLOW_TEST_PAUSE_AT", "text", "", "tests only: stop `dflow new` (decision "
             "0831) or a step's execution (`execute.step-NN`, decision 1503) at a named "
             "point so a test can SIGKILL it there; never set it otherwise"),
    Variable("DFLOW_TRUST_SETTINGS", "flag", "0", "1: trust the settings on the state ref "
             "as they are (a CI job or remote worker running the repository's own workflow); "
             "otherwise changes from origin wait for `dflow trust`"),
    Variable("DFLOW_SYNC_TIMEOUT", "seconds", "20", "the time limit of the implicit sync "
             "after a command"),
)
BY_NAME: Mapping[str, Variable] = MappingProxyType({v.name: v for v in VARIABLES})


def text(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The variable's text (its default when unset or empty)."""
    var = BY_NAME[name]
    return (environ if environ is not None else os.environ).get(name) or var.default


def is_set(name: str, environ: Mapping[str, str] | None = None) -> bool:
    _ = BY_NAME[name]
    return bool((environ if environ is not None else os.environ).get(name))


def seconds(name: str, environ: Mapping[str, str] | None = None) -> float:
    """A positive number of seconds."""
    raw = text(name, environ)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds; set a positive number "
                          f"like {BY_NAME[name].default} or unset it")
    return value


def count(name: str, environ: Mapping[str, str] | None = None) -> int:
    """A whole number, zero or more."""
    raw = text(name, environ)
    if not raw.strip().isdigit():
        raise ConfigError(f"{name}={raw!r} is not a whole number; set one like "
                          f"{BY_NAME[name].default} or unset it")
    return int(raw)


def flag(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """1/true/yes/on or 0/false/no/off."""
    raw = text(name, environ).strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name}={raw!r} is neither 1 nor 0; set 1 to turn it on or unset it")


def check_all(environ: Mapping[str, str] | None = None) -> None:
    """Validate every variable that is set (ConfigError names the first bad one)."""
    readers = {"seconds": seconds, "count": count, "flag": flag}
    for var in VARIABLES:
        reader = readers.get(var.kind)
        if reader is not None:
            reader(var.name, environ)


def actor() -> str:
    """Who this machine's commits and events name: DFLOW_ACTOR, else `user@host`."""
    explicit = text("DFLOW_ACTOR")
    if explicit:
        return explicit
    import getpass  # why: start-up
    import socket  # why: start-up

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "user"
    return f"{user}@{socket.gethostname()}"


def user_config_path() -> str:
    """The user config file: DFLOW_CONFIG_FILE, else `<user config dir>/dflow/config.toml`."""
    return text("DFLOW_CONFIG_FILE") or _default_config_path(
        os.environ.get("HOME"), os.environ.get("XDG_CONFIG_HOME"))


@functools.lru_cache(maxsize=8)
def _default_config_path(home: str | None, xdg: str | None) -> str:
    if sys.platform.startswith("linux"):  # platformdirs' rule there, without its ~5-15 ms of
        # imports on every `dflow status` (the settings digest names this file); a test holds
        # the two equal
        base = xdg if xdg and xdg.strip() else os.path.expanduser("~/.config")
        return os.path.join(base, "dflow", "config.toml")
    # why: start-up
    import platformdirs  # what the path depends on is the key: looked up once per value

    return os.path.join(platformdirs.user_config_dir("dflow"), "config.toml")


def settings_stamp(git_dir: str | None = None) -> tuple[object, ...]:
    """What the effective settings depend on besides project.toml: every DFLOW_* variable,
    the user config file's identity and, given the git dir, this machine's settings trust
    record (context/settings_trust.py). The settings cache and the status lines' cache key
    on it (one owner, so the two can never disagree on what invalidates them)."""
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("DFLOW_")))
    path = user_config_path()
    trust = _identity(os.path.join(git_dir, "deksdenflow", "settings-trust.json")) \
        if git_dir is not None else ()
    return env, path, _identity(path), trust


def _identity(path: str) -> tuple[int, ...]:
    try:
        stat = os.stat(path)
    except OSError:
        return ()
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


def settings_digest(git_dir: str, *also: str) -> str:
    """A digest of what the effective settings of the repository at `git_dir` depend on
    besides project.toml (`settings_stamp`, this machine's trust record included), and of
    `also` (project.toml's blob id, say): what a cache of anything computed with the
    effective settings keys on. Hashed, so no variable's value is written into a cache.
    BLAKE2 from its own module where there is one: hashlib loads OpenSSL, ~10 ms on the
    `status --json` hit path that computes this too."""
    try:
        # why: start-up
        from _blake2 import blake2b  # CPython's builtin module
    except ImportError:  # pragma: no cover - another interpreter
        from hashlib import blake2b  # why: start-up
    stamp = settings_stamp(git_dir)
    digest: str = blake2b(repr((also, stamp)).encode(), digest_size=20).hexdigest()
    return digest
