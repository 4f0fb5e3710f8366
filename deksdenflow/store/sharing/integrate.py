"""Bringing another clone's state commit into the local state ref (the sync service's write).

Only this module and repo.py move `refs/deksdenflow/state`: a fetched tip is adopted,
fast-forwarded to, or merged (a two-parent commit whose tree is `merge.merge_trees`), always
under the store lock and by compare-and-swap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pygit2

from ...errors import NewerSchema, StateCorrupt
from ..encoding.incoming import RemoteStateRefused
from ..encoding.layout import STATE_REF, TRACKING_PREFIX
from ..repo import Store
from . import trust
from .merge import Merged, Renumbered, merge_trees


class Outcome(StrEnum):
    UP_TO_DATE = "up-to-date"  # theirs is already in ours
    ADOPTED = "adopted"  # there was no local state: theirs became it
    FAST_FORWARD = "fast-forward"  # ours was behind
    MERGED = "merged"  # both had new events: a merge commit


@dataclass
class Integration:
    outcome: Outcome
    tip: str
    runs_changed: list[str] = field(default_factory=list)
    renumbered: list[Renumbered] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def tracking_ref(remote: str) -> str:
    return f"{TRACKING_PREFIX}{remote}/state"


def tracking_tip(store: Store, remote: str) -> str | None:
    ref = store.repo.references.get(tracking_ref(remote))
    return str(ref.target) if ref is not None else None


def holds(store: Store, commit: str) -> bool:
    """Whether the local state tip is `commit` or descends from it (it has all of it)."""
    tip = store.tip()
    if tip is None:
        return False
    return tip == commit or store.repo.descendant_of(pygit2.Oid(hex=tip),
                                                     pygit2.Oid(hex=commit))


def runs_changed(store: Store, since: str) -> set[str]:
    """The runs (uids) whose folder differs between the state commit `since` and the tip:
    their tree ids, so no file is read."""
    before = store.view_at(since).run_versions()
    return {uid for uid, tree in store.read().run_versions().items()
            if before.get(uid) != tree}


def set_tracking(store: Store, remote: str, commit: str) -> None:
    """Record what the remote's state ref was seen at (what `git fetch` would record)."""
    store.repo.references.create(tracking_ref(remote), pygit2.Oid(hex=commit), force=True)


def integrate(store: Store, theirs: str, label: str = "remote") -> Integration:
    """Bring the state commit `theirs` into the local state ref; retried on a lost CAS."""
    with store.lock():
        for _ in range(20):
            done = _attempt(store, theirs, label)
            if done is not None:
                return done
    raise StateCorrupt(f"{STATE_REF} kept moving while merging {label}; try `dflow sync` again")


def refusal(store: Store, theirs: str) -> str | None:
    """Why the state commit `theirs` (a remote's) may not come in, or None: every file it
    brings since what it shares with ours is shape-checked (store/encoding/incoming.py), then
    validated, before anything of it is parsed for a merge."""
    return _verdict(store, theirs)[0]


def _verdict(store: Store, theirs: str) -> tuple[str | None, bool]:
    """(`refusal`, whether every file `theirs` brings since the shared base passed: not so
    for a newer schema, which is no refusal — the merge says what to upgrade)."""
    repo = store.repo
    their_commit = _commit(repo, theirs)
    ours = store.tip()
    base_id = repo.merge_base(pygit2.Oid(hex=ours), their_commit.id) if ours else None
    base = _commit(repo, str(base_id)).tree if base_id is not None else None
    if base is not None and base.id == their_commit.tree.id:
        return None, True
    try:
        trust.validate_tree(repo, their_commit.tree, base)
    except (trust.StateUntrusted, NewerSchema) as exc:
        if isinstance(exc, NewerSchema):
            return None, False
        why = str(exc.__cause__ or exc).removesuffix(f"; {trust.REPAIR}")
        return why.split(": the state fails validation")[0], False
    return None, True


def check_incoming(store: Store, theirs: str, label: str) -> bool:
    """RemoteStateRefused, in one sentence naming the commit, unless `theirs` may come in;
    whether every file it brings passed validation (False: a newer schema, for the write to
    refuse)."""
    why, checked = _verdict(store, theirs)
    if why is not None:
        raise RemoteStateRefused(
            f"the state from '{label}' at {theirs[:12]} was refused and nothing of it taken "
            f"({why}); your state is unchanged, and whoever can push to '{label}' must put a "
            "good state back (`dflow doctor` names the commit)")
    return checked


def set_aside_refused(store: Store) -> list[tuple[str, str]]:
    """`dflow doctor --repair` for remotes: each tracking ref whose state is refused is kept
    under a quarantine ref and put back on what it shares with ours, so commands stop
    meeting it until the next fetch. Returns (tracking ref, quarantine ref) pairs."""
    done = []
    with store.lock():
        for ref in list(store.repo.references):
            if not (ref.startswith(TRACKING_PREFIX) and ref.endswith("/state")):
                continue
            theirs = str(store.repo.references[ref].target)
            if refusal(store, theirs) is None:
                continue
            kept = trust.quarantine(store.repo, theirs)
            ours = store.tip()
            base = store.repo.merge_base(pygit2.Oid(hex=ours), pygit2.Oid(hex=theirs)) \
                if ours else None
            if base is None:
                store.repo.references.delete(ref)
            else:
                store.repo.references.create(ref, base, force=True)
            done.append((ref, kept))
    return done


def _attempt(store: Store, theirs: str, label: str) -> Integration | None:
    repo = store.repo
    ours = store.tip()
    their_commit = _commit(repo, theirs)
    # Their files were validated against the base they share with ours: when that base is
    # ours (an adoption, a fast-forward), publishing does not run the same check again.
    checked = check_incoming(store, theirs, label)
    if ours is None:
        ok = store.publish_commit(None, their_commit.id, tree_checked=checked)
        return Integration(Outcome.ADOPTED, theirs) if ok else None
    if ours == theirs or repo.descendant_of(ours, theirs):
        return Integration(Outcome.UP_TO_DATE, ours)
    if repo.descendant_of(theirs, ours):
        ok = store.publish_commit(ours, their_commit.id, tree_checked=checked)
        return Integration(Outcome.FAST_FORWARD, theirs) if ok else None
    our_commit = _commit(repo, ours)
    base_id = repo.merge_base(our_commit.id, their_commit.id)
    base = _commit(repo, str(base_id)).tree if base_id is not None else None
    merged: Merged = merge_trees(repo, our_commit.tree, their_commit.tree, base)
    message = _message(label, merged)
    commit = store.write_commit(merged.tree, [our_commit.id, their_commit.id], message)
    if not store.publish_commit(ours, commit):
        return None
    return Integration(Outcome.MERGED, str(commit), merged.runs_changed, merged.renumbered,
                       merged.conflicts)


def _message(label: str, merged: Merged) -> str:
    lines = [f"dflow: merge state from {label}"]
    if merged.runs_changed:
        lines += ["", f"runs changed: {len(merged.runs_changed)}"]
    for r in merged.renumbered:
        lines.append(f"renumbered {r.old:04d}-{r.name} -> {r.new:04d}-{r.name} (number clash)")
    return "\n".join(lines)


def _commit(repo: pygit2.Repository, commit_id: str) -> pygit2.Commit:
    obj = repo.get(commit_id)
    if not isinstance(obj, pygit2.Commit):
        raise StateCorrupt(f"{commit_id} is not a state commit; run `dflow doctor`")
    return obj


def claim_commit(store: Store, message: str) -> str:
    """A parentless commit with an empty tree: the token pushed to claim a remote ref."""
    tree = store.repo.TreeBuilder().write()
    return str(store.write_commit(tree, [], message))
