"""What the implicit sync last found, so that a command can tell that there is nothing to
merge without loading anything heavy (no pygit2, no pydantic, no settings).

The implicit sync before a command (sync/auto.py) does two things that depend on refs only:
it merges the state a plain `git fetch` brought (the tracking ref), and before a read it
records runs whose branch was merged (branch and remote-tracking refs). Once it has done
both, it remembers the key of every ref but the state ref itself (`cache.refs_key`) and
of what the effective settings depend on besides project.toml. While that key holds, the
next command skips it: the remote costs nothing until a ref moves. A command that moves
the state ref then loads the sync to push it, and only then (`Deferred`). A tip the store
has not verified (moved behind its back) always takes the whole path
(docs/decisions/1550-the-remote-costs-nothing-until-used.md).

Standard library only at import: `dflow status` reads this before anything else.
"""

from __future__ import annotations

from contextvars import ContextVar

from .. import environment
from ..store import cache
from ..store.encoding.layout import TRACKING_PREFIX

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .auto import AutoSync

SEEN = "sync-seen"
LAST = "sync-seen-last"  # the last key itself, to tell which refs moved since
CHECKED = "sync-seen-tip"  # the state tip that last look saw, to tell which runs came since
# Commands that manage sync themselves, or must work without (or before) any state.
SKIP = frozenset({"init", "sync", "ci", "doctor", "console", "workers", "demo", "pr"})
# Reads that show run statuses: worth the cheap merged-branch check.
READS = frozenset({"status", "show", "events"})


# The unreachable remotes this command has explained already (sync/transport.unreachable);
# None: no command scope (the console, a worker), where every warning says it all.
told: ContextVar[set[str] | None] = ContextVar("dflow_unreachable_told", default=None)


def explain_once() -> None:
    """From now on in this command, an unreachable remote's reason is told once."""
    told.set(set())


def stamp(common: str) -> str:
    """Every ref the implicit sync reads (all but the state ref) and the settings digest."""
    return f"{environment.settings_digest(common)} {cache.refs_key(common)}"


def unmoved(common: str) -> bool:
    """Whether nothing the implicit sync reads moved since it last had nothing left to do,
    at a tip the store wrote or verified."""
    tip = cache.read_tip(common)
    if tip is None or cache.trusted_tip(common) != tip:
        return False
    return cache.holds(common, SEEN, stamp(common))


def remember(common: str, key: str, tip: str | None) -> None:
    """The implicit sync has merged and checked everything `key` (a `stamp`) names, with the
    state at `tip`."""
    cache.save(common, SEEN, key, b"")
    cache.save(common, LAST, LAST, key.encode())
    cache.save(common, CHECKED, CHECKED, (tip or "").encode())


def checked_tip(common: str) -> str | None:
    """The state tip the last whole look saw: the runs changed since are the ones a fetch can
    have brought, whichever command merged it first."""
    data = cache.load(common, CHECKED, CHECKED)
    return (data or b"").decode(errors="replace") or None


def moved(common: str, key: str) -> set[str] | None:
    """The refs that moved since the implicit sync last had nothing left to do (`key`: the
    stamp now); None when that is not known or the settings digest changed."""
    last = cache.load(common, LAST, LAST)
    if last is None:
        return None
    digest, _, refs = key.partition(" ")
    last_digest, _, last_refs = last.decode(errors="replace").partition(" ")
    if digest != last_digest:
        return None
    return {part.partition("=")[0] for part in set(refs.split(";")) ^ set(last_refs.split(";"))}


def fetched_only(common: str, key: str) -> bool:
    """Whether, of what the implicit sync reads, only state tracking refs (what `git fetch`
    moves for dflow) moved since it last had nothing left to do (`key`: the stamp now): the
    runs merged in from there are then the only ones whose branch can have become merged
    (decision 1612)."""
    refs = moved(common, key)
    return refs is not None and all(
        ref.startswith(TRACKING_PREFIX) and ref.endswith("/state") for ref in refs)


def implicit(common: str, command: str | None,
             make: Callable[[], AutoSync]) -> AutoSync | Deferred | None:
    """The implicit sync around `command`, run before it: None where there is none; a
    `Deferred` one when nothing moved; else the whole `AutoSync` (`make` builds it)."""
    explain_once()  # a new command: whether or not it syncs before, it may warn after
    if not command or command in SKIP:
        return None
    if unmoved(common):
        return Deferred(common, make)
    sync = make()
    sync.before_command(command)
    return sync


class Deferred:
    """The implicit sync of a command before which nothing moved: after the command, the
    sync is loaded only when the command moved the state ref, to push it."""

    def __init__(self, common: str, make: Callable[[], AutoSync]) -> None:
        self.common, self.make = common, make
        self.tip = cache.read_tip(common)
        self.notes: list[str] = []

    def take_notes(self) -> list[str]:
        notes, self.notes = self.notes, []
        return notes

    def after_command(self) -> None:
        if cache.read_tip(self.common) == self.tip:
            return
        sync = self.make()
        sync.resume(self.tip)
        sync.after_command()
        self.notes.extend(sync.take_notes())

