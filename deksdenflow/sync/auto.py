"""Implicit sync around CLI commands (`project.sync = "auto"`): merge what plain `git fetch`
brought before a command, push what the command changed after it. Offline is never an
error here: say so on stderr and keep working locally."""

from __future__ import annotations

import json
from collections.abc import Callable

from .. import environment
from ..context.project import Project
from ..errors import DflowError
from ..store.encoding.layout import PROJECT_FILE
from ..store.sharing.integrate import integrate, runs_changed, tracking_tip
from . import completion, seen, service, transport
from .seen import READS, SKIP

__all__ = ["READS", "SKIP", "AutoSync", "lost_notes", "notes_of"]


class AutoSync:
    """The implicit sync around one command; the composition root builds one per command
    (deksdenflow/wiring.py), so nothing about a command outlives it."""

    def __init__(self, open_project: Callable[[], Project]) -> None:
        self._open = open_project
        self.project: Project | None = None
        self.tip: str | None = None
        self.remote = ""
        self.notes: list[str] = []  # for the user: the CLI prints them on stderr

    def take_notes(self) -> list[str]:
        notes, self.notes = self.notes, []
        return notes

    def _warn(self, text: str) -> None:
        self.notes.append(f"warning: {text}")

    def before_command(self, command: str | None) -> None:
        """Merge the tracking ref if `git fetch` moved it; note the tip to see if we change it."""
        transport.explain_once()
        if not command or command in SKIP:
            return
        project = self._auto_project()
        if project is None:
            return
        common = str(project.store.git_dir)
        key = seen.stamp(common)  # before the work: a fetch during it must change the key
        remote = service.remote_name(project)
        theirs = tracking_tip(project.store, remote)
        ours = project.store.tip()
        try:
            if theirs is not None and theirs != ours:
                integrate(project.store, theirs, remote)
            if command in READS:
                # Only a fetch of the state moved: only the runs that came since the last
                # look need one (whichever command merged the fetch: it may not have looked).
                since = seen.checked_tip(common) if seen.fetched_only(common, key) else None
                uids = runs_changed(project.store, since) if since is not None else None
                completion.record_merged(project, remote, uids)
                if seen.stamp(common) == key:  # the next command need not look again
                    seen.remember(common, key, project.store.tip())
        except DflowError as exc:
            self._warn(f"could not merge the state fetched from '{remote}': {exc}")
        self.project, self.tip, self.remote = project, project.store.tip(), remote

    def resume(self, tip: str | None) -> None:
        """Nothing needed merging before the command (sync/seen.py), which began at `tip`:
        set up only what `after_command` needs to push what it changed."""
        project = self._auto_project()
        if project is not None:
            self.project, self.tip, self.remote = project, tip, service.remote_name(project)

    def after_command(self) -> None:
        """Push when the command moved the state ref (a fetch and merge first only when the
        remote refuses it: `service.push`)."""
        project, remote = self.project, self.remote
        if project is None or project.store.tip() == self.tip:
            return
        if remote not in project.store.remote_names():
            return
        try:
            with transport.time_limit(environment.seconds("DFLOW_SYNC_TIMEOUT")):
                report = service.push(project, remote)
        except transport.RemoteUnreachable as exc:
            self._warn(f"{transport.unreachable(exc, remote)}; the change is kept locally, run "
                       "`dflow sync` when online")
        except DflowError as exc:
            self._warn(f"could not sync with '{remote}': {exc}; run `dflow sync` to retry")
        else:
            self.notes.extend(notes_of(report))

    def _auto_project(self) -> Project | None:
        try:
            project = self._open()
            if not project.store.is_initialized:
                return None
            settings = project.settings()
        except DflowError:
            return None
        if settings.project.sync != "auto":
            return None
        if settings.project.remote not in project.store.remote_names():
            return None
        return project


def notes_of(report: service.SyncReport) -> list[str]:
    """What a user must know after an implicit sync: renumbered runs, completed runs."""
    return [*(f"note: {r.old_id} is now {r.new_id}: another clone took its number "
              f"(its branch stays {r.branch})" for r in report.renumbered),
            *(f"note: {run_id} is merged: its branch is on the base branch"
              for run_id in report.completed),
            *lost_notes(report)]


def lost_notes(report: service.SyncReport) -> list[str]:
    """One note per setting of ours that lost the merge of project.toml (decision 0973)."""
    return [f"note: another clone changed {PROJECT_FILE} at the same time and the merge "
            f"kept its version: {s.key} is {json.dumps(s.kept)} (yours was "
            f"{json.dumps(s.ours)}); `dflow config set` it again to keep yours"
            for s in report.settings_lost]
