"""Entry point with the one top-level error handler."""

from __future__ import annotations

import sys


def main() -> None:
    from .status_json import print_cached

    if print_cached(sys.argv[1:]):  # the tip has not moved: no need to load the CLI at all
        return
    from .app import app

    app(prog_name="dflow")


if __name__ == "__main__":
    main()
