"""Entry point with the one top-level error handler."""

from __future__ import annotations

import os
import sys


def main() -> None:
    try:
        _main()
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
    except BrokenPipeError:
        # `dflow status | head`: the reader had enough. Exit quietly (decision 0900).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)


# The first word of the commands cli/runs/fast_controls.py may answer (`--json` may come first).
_CONTROLS = frozenset(("pause", "resume", "step", "new"))


def _main() -> None:
    from .commands import print_fast  # why: start-up

    if print_fast(sys.argv[1:]):  # --version, --help: no need to load Typer
        return
    if _CONTROLS.intersection(sys.argv[1:3]):  # its import is no read path's cost
        from .runs.fast_controls import answer as answer_control  # why: start-up

        if answer_control(sys.argv[1:]):  # pause, resume, step approve, new (decision 1315)
            return
    from .runs.status_json import print_cached  # why: start-up

    if print_cached(sys.argv[1:]):  # the tip has not moved: no need to load the CLI at all
        return
    from .fast import answer  # why: start-up

    if answer(sys.argv[1:]):  # `dflow status`, `workers`, ...: read before Typer is loaded
        return
    from .app import app  # why: start-up

    app(prog_name="dflow")


if __name__ == "__main__":
    main()
