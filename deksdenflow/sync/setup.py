"""`dflow init` with a remote: adopt the remote's state, and let plain `git fetch` bring it.

The fetch refspec is a pattern (`state*`) rather than the exact ref: git fails a whole
`git fetch` when an exact configured ref is missing on the remote, and a remote that has no
dflow state yet is the common case (docs/decisions/0402-fetch-refspec-is-a-pattern.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from pydantic import BaseModel

from ..context.parts import Parts
from ..context.project import Project, initialize
from ..store import Store
from ..store.encoding.layout import TRACKING_PREFIX
from ..store.sharing.integrate import integrate
from . import transport


class InitReport(BaseModel):
    created: bool
    adopted: bool = False
    remote: str | None = None
    refspec_added: bool = False
    offline: str = ""
    tip: str | None = None
    warnings: list[str] = []  # for the user (the CLI prints them on stderr)
    untrusted: list[str] = []  # adopted settings that wait for `dflow trust` here


def fetch_refspec(remote: str) -> str:
    return f"+refs/deksdenflow/state*:{TRACKING_PREFIX}{remote}/state*"


def add_fetch_refspec(store: Store, remote: str) -> bool:
    """Make `git fetch REMOTE` bring the remote's state; False when it already does."""
    return store.add_fetch_refspec(remote, fetch_refspec(remote))


def init(parts: Parts, path: str | os.PathLike[str] = ".", *, base: str | None = None,
         engine: str | None = None, remote: str | None = None,
         edit: Callable[[str], str] | None = None,
         trust: bool = False) -> tuple[Project, InitReport]:
    """Set up dflow: adopt the remote's state when it has one, else create a new state.
    Adopted settings are trusted here only with `trust` (the person said yes); otherwise
    `report.untrusted` lists what waits for `dflow trust`."""
    project = parts.open_project(path)
    name = remote or "origin"
    has_remote = name in project.store.remote_names()
    report = InitReport(created=False, remote=name if has_remote else None)
    if has_remote and not project.store.is_initialized:
        report.adopted, report.offline = adopt(project, name)
        if report.offline:
            report.warnings.append(f"{report.offline}; starting a local state, `dflow sync` "
                                   "merges later")
    report.created = initialize(project, base=base, engine=engine, edit=edit)
    if has_remote:
        report.refspec_added = add_fetch_refspec(project.store, name)
        if report.created and not report.offline:
            share(project, name, report)
    report.tip = project.store.tip()
    if not report.created and project.store.is_initialized:
        from . import trust as settings_trust

        if trust:
            settings_trust.accept_all(project)
        report.untrusted = sorted(project.settings().untrusted())
    return project, report


def adopt(project: Project, remote: str) -> tuple[bool, str]:
    """Take the remote's state as ours (a fresh clone); (adopted, why-offline)."""
    try:
        theirs = transport.fetch_state(project.store, remote)
    except transport.RemoteUnreachable as exc:
        return False, str(exc)
    if theirs is None:
        return False, ""
    integrate(project.store, theirs, remote)
    return True, ""


def share(project: Project, remote: str, report: InitReport) -> None:
    """Push a newly created state so the next clone adopts it instead of starting another."""
    from .service import sync  # the service imports this module's neighbours

    try:
        sync(project, remote)
    except transport.RemoteUnreachable as exc:
        report.offline = str(exc)
        report.warnings.append(f"{exc}; the state stays local until `dflow sync`")
