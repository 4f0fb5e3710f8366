"""`dflow project show` before Typer: project.toml's text at a checked tip, and the keys the
environment or the user config override, kept in the git dir's cache under what the
effective settings depend on.

The overrides are a pure function of project.toml's blob, the `DFLOW_*` variables, the user
config file and this machine's trust record — the key `reads/listing.settings_key` makes — so
they are computed (with the settings, ~200 ms) once per key and read back after that
(docs/decisions/1311-project-show-before-typer.md).
"""

from __future__ import annotations

import json

from ..store import cache
from ..store.encoding.layout import PROJECT_FILE
from ..store.encoding.layout import PROJECT_SOURCE as PROJECT_SOURCE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..context.config import ResolvedSettings

OVERRIDES = "project-overrides"


def project_at(common: str, tip: str) -> tuple[str, list[str]]:
    """project.toml's text at `tip` and the `# key = value  (from source)` lines of the keys
    it does not decide, through the cache."""
    from .listing import settings_key
    from .runs import view_at

    view = view_at(common, tip)
    data = view.blob(PROJECT_FILE)
    body = data.decode() if data is not None else ""
    key = settings_key(view, common)
    raw = cache.load(common, OVERRIDES, key)
    found = json.loads(raw) if raw is not None else None
    if not (isinstance(found, list) and all(isinstance(line, str) for line in found)):
        from ..context import config

        found = override_lines(config.resolve(body, trust_dir=common))
        cache.save(common, OVERRIDES, key, json.dumps(found).encode())
    return body, found


def override_lines(resolved: ResolvedSettings) -> list[str]:
    """`# key = value  (from source)` for every key not from project.toml, sorted."""
    from ..context import config

    overridden = {k: v for k, v in resolved.sources.items() if v != PROJECT_SOURCE}
    return [f"# {key} = {json.dumps(config.get_value(resolved.settings, key))}  "
            f"(from {source})" for key, source in sorted(overridden.items())]
