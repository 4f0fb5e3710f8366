"""Read commands answered before Typer is imported: the one door `cli/main.py` asks first.

`answer(argv)` looks the command up in `ROUTES` and asks that module's `print_fast(argv)`,
which answers only an exact argument list it knows (`dflow workers`, `dflow project show`,
...) at a tip the store has verified; anything else — another option, `-C`, `--debug`, an
error, a tip moved behind the store's back — returns False and Typer's command answers,
byte for byte the same (docs/decisions/1301, 1310).

`run` is what every fast path shares with the root callback of `cli/app.py`: the read side's
`reads/around.py` (the `DFLOW_*` check, the implicit sync, the checked tip, the fall-back)
with this face's stdout and stderr.
"""

from __future__ import annotations

import sys

from ..reads import around

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..sync.auto import AutoSync
    from ..sync.seen import Deferred

# The command's first word -> the module (in this package) whose `print_fast(argv)` may answer.
ROUTES = {
    "status": "runs.status_lines",
    "workers": "team.workers_fast",
    "project": "setup.project_fast",
    "events": "runs.events_fast",
    "show": "runs.show_fast",
}


def answer(argv: list[str]) -> bool:
    """True when a fast path printed the answer; False: Typer's command must answer."""
    module = ROUTES.get(argv[0]) if argv else None
    if module is None:
        return False
    import importlib

    return bool(importlib.import_module(f"{__package__}.{module}").print_fast(argv))


def run(command: str, body: Callable[[str, str], str | None], common: str | None = None) -> bool:
    """Around `body` what the root callback does around a command (reads/around.py); `body`
    returns the text to print, or None to leave the command to Typer."""
    return around.run(command, body, common, _auto_sync, write, say)


def implicit_sync(common: str, command: str) -> AutoSync | Deferred | None:
    """The implicit sync before `command` (sync/seen.py: nothing heavy while nothing moved)."""
    return around.implicit_sync(common, command, _auto_sync)


def _auto_sync() -> AutoSync:
    from ..wiring import Wiring

    return Wiring().auto_sync()


def write(text: str) -> None:
    if text:
        sys.stdout.write(text)
        sys.stdout.flush()


def say(notes: list[str]) -> None:
    if notes:
        from ..domain.agents.redaction import redact, secret_values, strip_controls

        for line in notes:
            sys.stderr.write(strip_controls(redact(line, secret_values(()))) + "\n")
