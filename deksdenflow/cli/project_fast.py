"""`dflow project show` before Typer: project.toml's text at the tip, and the overrides kept
in the git dir's cache under what the effective settings depend on.

What the command prints is the header (which names the tip), project.toml as it is on the
ref, and the keys the environment or the user config override. The overrides are a pure
function of project.toml's blob, the `DFLOW_*` variables and the user config file — the key
`cli/status_lines.settings_key` makes — so they are computed (with the settings, ~200 ms)
once per key and read back after that. Text Rich would change (a tab, a control character)
leaves the answer to the command (docs/decisions/1311-project-show-before-typer.md).
"""

from __future__ import annotations

import json
import os

from ..store import cache
from ..store.layout import PROJECT_FILE
from . import fast

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..context.config import ResolvedSettings
    from ..store.lite import LiteView

# context/config.py's PROJECT_SOURCE (a test holds it)
PROJECT_SOURCE = "project.toml on refs/deksdenflow/state"
OVERRIDES = "project-overrides"
OVERRIDDEN = "# overridden here:"  # the one line the command lets Rich wrap


def print_fast(argv: list[str]) -> bool:
    """`dflow project show` (exactly); False when the command must answer."""
    if argv != ["project", "show"]:
        return False
    return fast.run("project", _answer)


def _answer(common: str, tip: str) -> str | None:
    from ..store.lite import LiteView

    view = LiteView(common, tip)
    data = view.blob(PROJECT_FILE)
    body = data.decode() if data is not None else ""
    text = "\n".join([header(tip), body.rstrip(), *overrides_part(common, view, body)])
    if not all(line.isprintable() for line in text.split("\n")):
        return None  # Rich drops control characters and expands tabs: the command prints it
    return text + "\n"


def header(tip: str) -> str:
    return f"# {PROJECT_SOURCE} (tip {tip[:12]})"


def overrides_part(common: str, view: LiteView, body: str) -> list[str]:
    """The `# overridden here:` lines (none when nothing is), through the cache."""
    from .status_lines import settings_key

    key = settings_key(view, common)
    raw = cache.load(common, OVERRIDES, key)
    found = json.loads(raw) if raw is not None else None
    if not (isinstance(found, list) and all(isinstance(line, str) for line in found)):
        from ..context import config

        found = override_lines(config.resolve(body))
        cache.save(common, OVERRIDES, key, json.dumps(found).encode())
    if not found:
        return []
    if _narrow(len(OVERRIDDEN)):
        raise ValueError("a console too narrow for the heading: Rich wraps it")
    return ["", OVERRIDDEN, *found]


def _narrow(width: int) -> bool:
    """Could Rich's console be narrower than `width`? (COLUMNS, else a terminal's size.)"""
    sizes = [os.environ.get("COLUMNS", "")]
    for fd in (0, 1, 2):
        try:
            sizes.append(str(os.get_terminal_size(fd).columns))
        except OSError:
            continue
    return any(size.isdigit() and int(size) < width for size in sizes)


def override_lines(resolved: ResolvedSettings) -> list[str]:
    """`# key = value  (from source)` for every key not from project.toml, sorted."""
    from ..context import config

    overridden = {k: v for k, v in resolved.sources.items() if v != PROJECT_SOURCE}
    return [f"# {key} = {json.dumps(config.get_value(resolved.settings, key))}  "
            f"(from {source})" for key, source in sorted(overridden.items())]
