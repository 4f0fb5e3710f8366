"""The state ref defends itself: the store remembers the last tip it wrote or checked, and a tip
that does not descend from it, or brings files that fail validation, is never read or built
upon (docs/decisions/0740-the-state-ref-defends-itself.md).

The remembered tip lives in `<git dir>/deksdenflow/trusted-tip`, rewritten in place after
every commit the store publishes. Checking it costs one small file read when the ref has not
moved behind our back; when it has (a `git fetch` into the ref, another dflow version), only
the files that changed since are validated.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pygit2

from ...domain.eventlog.events import EventType
from ...errors import ConfigError, NewerSchema, StateCorrupt
from ..encoding import codec, incoming
from ..encoding.layout import META_FILE, OPEN_JOBS_DIR, PROJECT_FILE, STATE_REF

if TYPE_CHECKING:
    from ..state import StateView

TRUSTED_FILE = "trusted-tip"
QUARANTINE_PREFIX = "refs/deksdenflow/quarantine/"
AUTHOR = "dflow"
MAX_NEW_COMMITS = 100_000
READ_TRIES = 50
REPAIR = "run `dflow doctor --repair` to restore the last good state (the other tip is kept)"

_ULID = r"[0-9A-HJKMNP-TV-Z]{26}"
_EVENT = re.compile(rf"(?:runs/\w+/({_ULID})/)?events/\w+/({_ULID})\.json")
_SNAPSHOT = re.compile(rf"runs/\w+/({_ULID})/run\.json")
_ARTIFACT = re.compile(rf"runs/\w+/{_ULID}/artifacts/.+")
_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_OPEN_JOB = re.compile(rf"{OPEN_JOBS_DIR}/({_ULID})\.json")


class StateUntrusted(StateCorrupt):
    """The state ref holds something dflow did not write, or that fails validation."""


def read(data_dir: Path) -> str | None:
    """The remembered tip, or None when there is none (or no whole id: the tree is then
    validated whole). The file is rewritten in place (remember): read until two reads in a
    row agree, so a read that met a write half-done is never believed."""
    last = None
    for _ in range(READ_TRIES):
        try:
            text = (data_dir / TRUSTED_FILE).read_bytes()
        except OSError:
            return None
        if text == last:
            tip = text.decode("ascii", "replace").strip()
            return tip if _OBJECT_ID.fullmatch(tip) else None
        last = text
    # Never "nothing known": that would accept a ref moved back to an older state.
    raise StateCorrupt(f"{TRUSTED_FILE} in {data_dir} changed on each of {READ_TRIES} reads; "
                       "run the command again")


def remember(data_dir: Path, tip: str) -> None:
    """Record `tip` as good.

    The file is rewritten in place with one write of the same length: a temporary file and a
    rename per commit cost as much as the rest of the commit's writing on a busy disk
    (docs/decisions/1323-trusted-tip-rewritten-in-place.md). A write of 41 bytes at offset 0
    happens whole or not at all for a killed process; a reader that races it reads again
    (read). The first record, or one of another length, goes through a rename."""
    line = f"{tip}\n".encode()
    path = data_dir / TRUSTED_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
    except OSError:
        _replace(data_dir, line)
        return
    try:
        if os.fstat(fd).st_size == len(line) and os.pwrite(fd, line, 0) == len(line):
            return
    finally:
        os.close(fd)
    _replace(data_dir, line)


def _replace(data_dir: Path, line: bytes) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_dir / f"{TRUSTED_FILE}.{os.getpid()}.tmp"
    tmp.write_bytes(line)
    os.replace(tmp, data_dir / TRUSTED_FILE)


def verify(repo: pygit2.Repository, known: str | None, tip: str,
           tree_checked: bool = False) -> None:
    """Raise StateUntrusted unless `tip` is a good successor of `known` (or, with nothing
    known yet, a wholly valid state). `tree_checked`: its files were validated against
    `known`'s already (a remote's state the sync checked before taking it)."""
    commit = _commit(repo, tip)
    if known is None or repo.get(known) is None:
        if not tree_checked:
            validate_tree(repo, commit.tree, None)
        return
    if known == tip:
        return
    if not repo.descendant_of(commit.id, pygit2.Oid(hex=known)):
        raise StateUntrusted(
            f"{STATE_REF} was moved to {tip[:12]}, which does not descend from the last state "
            f"dflow wrote ({known[:12]}): something other than dflow moved it; {REPAIR}")
    _check_authors(repo, commit, known)
    if not tree_checked:
        validate_tree(repo, commit.tree, _commit(repo, known).tree)


def _commit(repo: pygit2.Repository, tip: str) -> pygit2.Commit:
    obj = repo.get(tip)
    if not isinstance(obj, pygit2.Commit):
        raise StateUntrusted(f"{STATE_REF} does not point at a commit; {REPAIR}")
    return obj


def _check_authors(repo: pygit2.Repository, tip: pygit2.Commit, known: str) -> None:
    """Every commit since the known tip was made by a dflow (this clone's or another's)."""
    # A Repository of its own: the walk's iteration runs without the GIL, and the store's
    # repository has a Python object backend (store/plumbing/pack.py's RecentObjects).
    walker = pygit2.Repository(repo.path).walk(tip.id, pygit2.enums.SortMode.TOPOLOGICAL)
    walker.hide(pygit2.Oid(hex=known))
    for n, commit in enumerate(walker):
        if commit.author.name != AUTHOR or n > MAX_NEW_COMMITS:
            raise StateUntrusted(
                f"{STATE_REF} holds commit {str(commit.id)[:12]} by "
                f"'{commit.author.name}', which dflow did not write; {REPAIR}")


def validate_whole(view: StateView) -> None:
    """Every file of the view's tree, not only a diff (`dflow doctor`)."""
    if view.commit is not None:
        validate_tree(view.repo, view.commit.tree, None)


def validate_tree(repo: pygit2.Repository, tree: pygit2.Tree, base: pygit2.Tree | None,
                  ) -> None:
    """Every file that differs from `base` (all of them without one) is one dflow writes and
    passes its model; nothing dflow never deletes is gone."""
    for name in (PROJECT_FILE, META_FILE):
        if name not in tree:
            raise StateUntrusted(f"{name} is missing from {STATE_REF}; {REPAIR}")
    if base is None:
        changes = [(path, blob, False) for path, blob in _walk(tree, "")]
    else:
        changes = _changed(repo, tree, base)
    for path, blob, deleted in changes:
        if deleted:
            if not _may_delete(path, blob):
                raise StateUntrusted(f"{path} was deleted from {STATE_REF}, which dflow never "
                                     f"does (events are kept for good); {REPAIR}")
            continue
        _validate_file(repo, path, blob)


def _may_delete(path: str, blob: pygit2.Blob | None) -> bool:
    """Open-job index entries come and go; a merge drops derived `run.renumbered` events
    (docs/decisions/0401). Every other file, once written, stays."""
    if _OPEN_JOB.fullmatch(path):
        return True
    if _EVENT.fullmatch(path) and isinstance(blob, pygit2.Blob):
        try:
            return codec.load_event(blob.data, path).type == EventType.RUN_RENUMBERED
        except (StateCorrupt, ValueError):
            return True  # a broken file going away is no loss
    return False


def _walk(tree: pygit2.Tree, prefix: str) -> list[tuple[str, pygit2.Blob]]:
    _shape(incoming.check_tree_size, tree, prefix.rstrip("/"))
    found = []
    for entry in tree:
        path = f"{prefix}{entry.name}"
        if isinstance(entry, pygit2.Tree):
            found += _walk(entry, f"{path}/")
        elif isinstance(entry, pygit2.Blob) and entry.filemode != pygit2.enums.FileMode.LINK:
            found.append((path, entry))
        else:
            raise StateUntrusted(f"{path} on {STATE_REF} is not a file or folder; {REPAIR}")
    return found


def _shape(check: Callable[..., None], *args: object) -> None:
    """One of incoming's checks, its refusal worded as every other failed validation."""
    try:
        check(*args)
    except incoming.ShapeRefused as exc:
        raise StateUntrusted(f"{exc}: the state fails validation, so dflow will not build on "
                             f"it; {REPAIR}") from exc


def _changed(repo: pygit2.Repository, tree: pygit2.Tree, base: pygit2.Tree,
             ) -> list[tuple[str, pygit2.Blob, bool]]:
    diff = base.diff_to_tree(tree)
    out = []
    for delta in diff.deltas:
        if delta.status == pygit2.enums.DeltaStatus.DELETED:
            out.append((delta.old_file.path, repo.get(delta.old_file.id), True))
            continue
        _shape(incoming.check_entry, repo, delta.new_file.path, delta.new_file.id,
               delta.new_file.mode, _cap(delta.new_file.path))
        blob = repo.get(delta.new_file.id)
        if not isinstance(blob, pygit2.Blob):
            raise StateUntrusted(f"{delta.new_file.path} on {STATE_REF} is not a file; {REPAIR}")
        out.append((delta.new_file.path, blob, False))
    return out  # type: ignore[return-value]


def _cap(path: str) -> int:
    if _ARTIFACT.fullmatch(path):
        return incoming.MAX_ARTIFACT_BYTES
    if _EVENT.fullmatch(path):
        return incoming.MAX_EVENT_BYTES
    if path == PROJECT_FILE:
        return incoming.MAX_SETTINGS_BYTES
    return incoming.MAX_SNAPSHOT_BYTES


def _validate_file(repo: pygit2.Repository, path: str, blob: pygit2.Blob) -> None:
    _shape(incoming.check_entry, repo, path, blob.id, blob.filemode, _cap(path))
    data = blob.data
    if not _ARTIFACT.fullmatch(path) and path != PROJECT_FILE:
        _shape(incoming.check_json, data, path)
    try:
        if path == PROJECT_FILE:
            codec.load_settings(data.decode(), f"{PROJECT_FILE} on {STATE_REF}")
        elif path == META_FILE:
            codec.load_meta(data, path)
        elif found := _EVENT.fullmatch(path):
            event = codec.load_event(data, path)
            if event.id != found.group(2) or (event.run or None) != found.group(1):
                raise StateCorrupt(f"{path} on {STATE_REF} holds event {event.id} of run "
                                   f"{event.run}, not the one its path names")
        elif found := _SNAPSHOT.fullmatch(path):
            snap = codec.load_snapshot(data, path)
            if snap.run.uid != found.group(1):  # else `dflow cancel A` would act on run B
                raise StateCorrupt(f"{path} on {STATE_REF} holds run {snap.run.uid}, not the "
                                   "one its folder names")
            _one_value_per_key(data, path)
        elif _OPEN_JOB.fullmatch(path):
            codec.load_job(data, path)
        elif not _ARTIFACT.fullmatch(path):
            raise StateCorrupt(f"{path} on {STATE_REF} is no file dflow writes")
    except NewerSchema as exc:  # the fix is an upgrade, unless no newer dflow wrote it
        raise NewerSchema(f"{exc} (or, if no newer dflow wrote it, "
                          "`dflow doctor --repair`)") from exc
    except StateUntrusted:
        raise
    except (StateCorrupt, ConfigError, UnicodeDecodeError, ValueError) as exc:
        why = str(exc).rstrip(".").removesuffix("; run `dflow doctor`")
        raise StateUntrusted(f"{why}: the state fails validation, so dflow will not build on "
                             f"it; {REPAIR}") from exc


def _one_value_per_key(data: bytes, path: str) -> None:
    """A key twice in one object is valid JSON, and the readers would disagree on it (the
    models keep the last value, the run index's scan the first): what names a run must read
    one way. dflow never writes one; a teammate who writes one by hand is refused."""
    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        keys = [key for key, _ in items]
        if len(set(keys)) != len(keys):
            twice = next(key for key in keys if keys.count(key) > 1)
            raise StateCorrupt(f"{path} on {STATE_REF} names '{twice}' twice in one object")
        return dict(items)

    json.loads(data, object_pairs_hook=pairs)


def last_good(repo: pygit2.Repository, known: str | None, tip: str,
              limit: int = 1000) -> str | None:
    """The state to restore: the remembered tip when it is a wholly valid state, else the
    newest commit on the tip's first-parent line that is dflow's and wholly valid."""
    candidates = [known] if known is not None and repo.get(known) is not None else []
    commit = repo.get(tip)
    while isinstance(commit, pygit2.Commit) and len(candidates) < limit:
        if commit.author.name == AUTHOR:
            candidates.append(str(commit.id))
        commit = commit.parents[0] if commit.parents else None
    for candidate in candidates:
        try:
            validate_tree(repo, _commit(repo, candidate).tree, None)
        except (StateCorrupt, NewerSchema):
            continue
        return candidate
    return None


def quarantine(repo: pygit2.Repository, tip: str) -> str:
    """Keep `tip` reachable under a quarantine ref; returns the ref's name."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"{QUARANTINE_PREFIX}{stamp}"
    repo.references.create(name, pygit2.Oid(hex=tip))
    return name
