"""Read commands answered before Typer is imported: the one door `cli/main.py` asks first.

`answer(argv)` looks the command up in `ROUTES` and asks that module's `print_fast(argv)`,
which answers only an exact argument list it knows (`dflow workers`, `dflow project show`,
...) at a tip the store has verified; anything else — another option, `-C`, `--debug`, an
error, a tip moved behind the store's back — returns False and Typer's command answers,
byte for byte the same (docs/decisions/1301, 1310).

`run` is what every fast path shares with the root callback of `cli/app.py`: the check of
the `DFLOW_*` variables, the implicit sync around the command (only when the git config
names a remote), its notes on stderr, and the fall-back on any error.
"""

from __future__ import annotations

import os
import sys

from ..errors import DflowError
from ..store import cache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..sync.auto import AutoSync
    from ..sync.seen import Deferred

# The command's first word -> the module (in this package) whose `print_fast(argv)` may answer.
ROUTES = {
    "status": "status_lines",
    "workers": "workers_fast",
    "project": "project_fast",
    "events": "events_fast",
    "show": "show_fast",
}

# What a fast path's reading may raise on state it does not expect: the regular command
# then answers (and words any real problem as one sentence).
FALLBACK_ERRORS = (DflowError, OSError, ValueError, KeyError, TypeError, IndexError,
                   AttributeError)


def answer(argv: list[str]) -> bool:
    """True when a fast path printed the answer; False: Typer's command must answer."""
    module = ROUTES.get(argv[0]) if argv else None
    if module is None:
        return False
    import importlib

    return bool(importlib.import_module(f"{__package__}.{module}").print_fast(argv))


def trusted_tip(common: str) -> str | None:
    """The state ref's tip when it is one the store wrote or verified; None when the regular
    command must look (not initialised, moved behind the store's back: `Store.read` checks)."""
    tip = cache.read_tip(common)
    return tip if tip is not None and cache.trusted_tip(common) == tip else None


def run(command: str, body: Callable[[str, str], str | None], common: str | None = None) -> bool:
    """Around `body` what the root callback does around a command. `body(git dir, tip)` gets
    the tip as it is after the implicit sync, and returns the text to print (it may have
    printed before it, once sure), or None to leave the command to Typer."""
    from .. import environment

    common = common or cache.common_dir_of(os.getcwd())
    if common is None:
        return False

    try:
        environment.check_all()
    except DflowError:
        return False  # the root callback says which variable is wrong
    sync = None
    if cache.may_have_remote(common):  # as cli/app.py's root callback does
        sync = implicit_sync(common, command)
        if sync is not None:
            say(sync.take_notes())
    tip = trusted_tip(common)
    try:
        text = body(common, tip) if tip is not None else None
    except BrokenPipeError:
        raise  # `dflow show RUN | head`: main() ends quietly; answering again would not help
    except FALLBACK_ERRORS:
        text = None
    if text is None:
        return False
    write(text)
    if sync is not None:
        sync.after_command()
        say(sync.take_notes())
        if "pydantic" in sys.modules and "pygit2" in sys.modules:
            # The whole implicit sync ran (a fetch was merged): end now, as the controls do
            # (decision 1315): nothing is left to run at exit, and freeing every object
            # pydantic and pygit2 made is a tenth of the read (decision 1611).
            sys.stderr.flush()
            os._exit(0)
    return True


def implicit_sync(common: str, command: str) -> AutoSync | Deferred | None:
    """The implicit sync before `command` (sync/seen.py: nothing heavy while nothing moved)."""
    from ..sync import seen

    def make() -> AutoSync:
        from ..wiring import Wiring

        return Wiring().auto_sync()

    return seen.implicit(common, command, make)


def write(text: str) -> None:
    if text:
        sys.stdout.write(text)
        sys.stdout.flush()


def say(notes: list[str]) -> None:
    if notes:
        from ..domain.redaction import redact, secret_values, strip_controls

        for line in notes:
            sys.stderr.write(strip_controls(redact(line, secret_values(()))) + "\n")
