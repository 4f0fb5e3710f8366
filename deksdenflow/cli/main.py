"""Entry point with the one top-level error handler."""

from __future__ import annotations

import sys


def main() -> None:
    from .app import app

    app(prog_name="dflow")


if __name__ == "__main__":
    sys.exit(main())
