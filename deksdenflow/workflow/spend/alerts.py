"""Budget alerts: recorded when a run's or the project's month spend reaches a fraction of its
limit (`alerts.at`), delivered to `alerts.command` once the commit is on the ref.

Each threshold fires once per budget and period: the run snapshots keep the alerts fired
(`domain/eventlog/alerts.py`), the month's are read from every run, and the fold refuses a repeat
that a merge brings in (docs/decisions/1224-alerts-once-per-period.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ...domain.config.settings import ProjectSettings
from ...domain.eventlog import alerts as fired_alerts
from ...domain.eventlog.alerts import BudgetAlert
from ...domain.eventlog.events import Event
from ...domain.eventlog.payloads import RunBudgetAlert
from ...domain.eventlog.payloads import Spend as Spent
from ...domain.runs.models import RunSnapshot, Spend
from ...store import StateView, Tx
from . import budget

# Kept to the names a shell command needs: no token, key or dflow variable reaches it.
CLEAN_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SYSTEMROOT")
# Runs the command detached, so a slow webhook never holds the state lock or the caller,
# and kills its process group when the time is up.
RUNNER = """
import os, signal, subprocess, sys
data = sys.stdin.buffer.read()
p = subprocess.Popen(sys.argv[1], shell=True, stdin=subprocess.PIPE,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
try:
    p.communicate(data, timeout=float(sys.argv[2]))
except subprocess.TimeoutExpired:
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
"""


def check(tx: Tx, uid: str, settings: ProjectSettings) -> list[BudgetAlert]:
    """Record an alert for each budget whose spend reached a threshold not fired yet (the
    highest one reached); only in a transaction that charged this run something."""
    if not settings.alerts.at or settings.budget.mode == "off" or not _spent(tx, uid):
        return []
    snap = tx.run(uid)
    month, others = _month(tx.view, snap, settings)
    done = [*snap.run.alerts, *others]
    out = []
    for limit in budget.checks(snap, settings, month):
        if limit.scope == "attempt" or limit.limit <= 0:
            continue
        reached = [t for t in sorted(settings.alerts.at) if limit.used >= t * limit.limit]
        prefix = f"{limit.scope}:{limit.metric}:{limit.period}"
        if not reached or fired_alerts.fired(done, prefix, reached[-1]):
            continue
        alert = RunBudgetAlert(
            scope="month" if limit.scope == "month" else "run", metric=limit.metric,
            period=limit.period, threshold=reached[-1], used=limit.used, limit=limit.limit,
            key=limit.key, text=f"{reached[-1]:.0%} of a budget: {limit.sentence()}")
        tx.emit(alert, run=uid)
        out.append(alert.alert())
    return out


def _spent(tx: Tx, uid: str) -> bool:
    return any(e.run == uid and isinstance(e.data, Spent)
               and bool(e.data.usage.total or e.data.cost) for e in tx.events)


def _month(view: StateView, snap: RunSnapshot,
           settings: ProjectSettings) -> tuple[Spend | None, list[BudgetAlert]]:
    """The month's spend and the month alerts other runs fired (only with a month limit)."""
    if not budget.needs_month(settings):
        return None, []
    others = []
    for doc in view.snapshot_docs():
        run = doc.get("run") or {}
        if run.get("uid") == snap.run.uid:
            continue
        others += [BudgetAlert.model_validate(a) for a in run.get("alerts") or ()
                   if a.get("scope") == "month"]
    return budget.month_spend(view, snap), others


def deliver(events: list[Event], settings: ProjectSettings, project: str) -> int:
    """Start `alerts.command` for each alert event (already on the ref, and redacted by the
    store's one pass); returns how many were started. Never waits for the command."""
    command = settings.alerts.command.strip()
    if not command or "alerts.command" in settings.untrusted():
        return 0  # a command from origin nobody here trusted yet is not started (decision 1510)
    started = 0
    env = clean_env()
    for event in events:
        if not isinstance(event.data, RunBudgetAlert):
            continue
        doc = {**event.data.model_dump(mode="json"), "event": event.id, "run": event.run,
               "project": project, "at": event.at.isoformat()}
        start(RUNNER, command, settings.alerts.timeout_s, doc, env)
        started += 1
    return started


def clean_env() -> dict[str, str]:
    """The environment a delivery runs in: only CLEAN_ENV's names."""
    return {k: os.environ[k] for k in CLEAN_ENV if k in os.environ}


def start(runner: str, target: str, timeout_s: float, doc: dict[str, object],
          env: dict[str, str]) -> None:
    """Start `runner` (a detached Python program) with `target` and the timeout as arguments
    and `doc` as JSON on stdin; never waits for it (`notify` delivers through here too)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", runner, target, str(timeout_s)],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=env, start_new_session=True, close_fds=True)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(doc).encode())
    proc.stdin.close()
