"""Unique protocol numbers across clones: claim the number on the remote before using it.

A claim is a tiny commit pushed, without force, to `refs/deksdenflow/numbers/NNNN`: git
refuses to create a ref that exists, so exactly one clone wins each number and a refused
claim tries the next one. Offline, numbers are allocated locally and a clash is resolved
when the states merge (docs/decisions/0401-number-clash-renumbers-the-later-run.md).
"""

from __future__ import annotations

from ..context.project import Project
from ..domain.eventlog.ids import new_id
from ..store.sharing.integrate import claim_commit
from . import transport

MAX_TRIES = 20


def claim_number(project: Project, proposed: int | None = None) -> int:
    """A number claimed on the remote (>= the next local one, or `proposed`); 0 when there
    is no remote, sync is manual, or the remote cannot be reached."""
    settings = project.settings()
    remote = settings.project.remote
    if settings.project.sync != "auto" or remote not in project.store.remote_names():
        return 0
    store = project.store
    if proposed is None:
        proposed = max((n for n, _ in project.view().run_names().values()), default=0) + 1
    try:
        number = max([proposed, *(n + 1 for n in transport.claimed_numbers(store, remote))])
        for _ in range(MAX_TRIES):
            # The nonce makes every claim a distinct commit: an identical one would be "up
            # to date" on the remote and look like a win for two clones.
            commit = claim_commit(store, f"dflow: protocol number {number:04d} by "
                                         f"{store.actor} ({new_id()})")
            ref = f"{transport.NUMBERS_PREFIX}{number:04d}"
            if transport.push_ref(store, remote, commit, ref):
                return number
            number += 1  # another clone has it: a normal race, not an error
    except transport.RemoteUnreachable as exc:
        project.parts.note(f"{transport.unreachable(exc, remote)}; numbering locally, a clash "
                           "is resolved on sync")
    return 0
