"""Tell a person: each notice a run's state carries (domain/decisions/notices.py) goes to
`notify.command` (JSON on stdin) and/or `notify.webhook_url` (a JSON POST), once.

Runs after every commit this clone publishes (its own transactions, and a merge, a
fast-forward or an adoption of another clone's state), so a run that became ready to land on
a teammate's machine is told here when the sync brings it. Once per state: this clone's record
of the keys it told (`<git dir>/deksdenflow/notices.json`, never on the ref) is compared with
the keys the runs carry now (docs/decisions/1590-notices-once-per-state.md). Delivery is the
alerts' (workflow/spend/alerts.py): a detached process, a clean environment, a timeout; it is called
under the state lock, which also keeps two processes from telling the same state twice.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ...context.project import Project
from ...domain.config.settings import ProjectSettings
from ...domain.decisions.notices import Notice, notices
from ..lifecycle import runs
from . import alerts

RECORD = "notices.json"
RECORD_VERSION = 1

# POSTs the notice with httpx, detached like the alert command, and gives up at the timeout.
WEBHOOK = """
import sys, httpx
data = sys.stdin.buffer.read()
try:
    httpx.post(sys.argv[1], content=data, timeout=float(sys.argv[2]),
               headers={"content-type": "application/json"})
except Exception:
    pass
"""


def record_path(git_dir: str | os.PathLike[str]) -> Path:
    return Path(git_dir) / "deksdenflow" / RECORD


def is_wanted(settings: ProjectSettings) -> bool:
    """Is anything configured to be told (and trusted on this machine)?"""
    return bool(_targets(settings))


def tell(project: Project, uids: list[str] | None = None, quiet: bool = False) -> list[Notice]:
    """Send the notices of `uids` (None: every run) not told yet; returns what was sent.
    `quiet` records them as told without sending: a fresh clone (a CI checkout above all)
    does not repeat what the clones that made those states told already."""
    settings = project.settings()
    targets = _targets(settings)
    if not targets and not quiet:  # quiet: recorded even before a person here trusts them
        return []
    view = project.view()
    if uids is None:
        snaps = view.runs()
    else:
        snaps = [s for s in (view.run(uid) for uid in uids) if s is not None]
    name = settings.project.name or project.root.name
    record = _read(project.store.git_dir)
    sent: list[Notice] = []
    for snap in snaps:
        told = set(record.get(snap.run.uid, ()))
        # the stage as the listing words it (run_line: one place that decides it)
        now = notices(snap, runs.run_line(snap, settings).stage, settings, name)
        sent += [n for key, n in now if key not in told and n.event in settings.notify.on]
        record[snap.run.uid] = sorted(key for key, _ in now)
    if sent or snaps:
        _write(project.store.git_dir, record)
    if quiet:
        return []
    env = alerts.clean_env()
    for notice in sent:
        doc: dict[str, object] = notice.model_dump(mode="json")
        for runner, target in targets:
            alerts.start(runner, target, settings.notify.timeout_s, doc, env)
    return sent


def _targets(settings: ProjectSettings) -> list[tuple[str, str]]:
    """(runner, target) for the command and the webhook set and trusted here (decision 1510)."""
    untrusted = settings.untrusted()
    out = []
    command = settings.notify.command.strip()
    if command and "notify.command" not in untrusted:
        out.append((alerts.RUNNER, command))
    url = settings.notify.webhook_url.strip()
    if url and "notify.webhook_url" not in untrusted:
        out.append((WEBHOOK, url))
    return out


def _read(git_dir: str | os.PathLike[str]) -> dict[str, list[str]]:
    """{run uid: keys told}; an unreadable record is an empty one (a state is told again
    rather than never)."""
    try:
        doc = json.loads(record_path(git_dir).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict) or doc.get("schema_version") != RECORD_VERSION:
        return {}
    told = doc.get("runs")
    if not isinstance(told, dict):
        return {}
    return {str(k): [str(x) for x in v] for k, v in told.items() if isinstance(v, list)}


def _write(git_dir: str | os.PathLike[str], told: dict[str, list[str]]) -> None:
    path = record_path(git_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{RECORD}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"schema_version": RECORD_VERSION, "runs": told},
                              sort_keys=True) + "\n")
    os.replace(tmp, path)

