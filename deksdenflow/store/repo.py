"""Opening a repository's store, and the one write path: lock, build, commit, compare-and-swap."""

from __future__ import annotations

import contextlib
import os
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pygit2

from .. import environment
from ..domain.config.settings import ProjectSettings
from ..errors import (
    DubiousOwnership,
    LockTimeout,
    NotAGitRepository,
    NotInitialized,
    StateCorrupt,
)
from .encoding import codec
from .encoding.layout import META_FILE, PROJECT_FILE, STATE_REF
from .plumbing import maintenance
from .plumbing.lock import StateLock
from .plumbing.lock import Timeout as LockBusy
from .plumbing.pack import PackWriter, RecentObjects, RollUp
from .plumbing.tree import TreeCache, TreeEdit
from .sharing import trust
from .state import StateView
from .writer import Tx

T = TypeVar("T")

OBJ_COMMIT = 1


CAS_RETRIES = 50
LOCK_POLL_S = 0.002

STALE_REF_LOCK_S = 2.0  # an older <ref>.lock, found under our lock, is a dead writer's


def ref_lock_wait_s() -> float:
    """How long to wait out git's own lock on the state ref (DFLOW_REF_LOCK_WAIT)."""
    return environment.seconds("DFLOW_REF_LOCK_WAIT")


def default_actor() -> str:
    return environment.actor()


def open_repository(path: str | os.PathLike[str] = ".") -> pygit2.Repository:
    try:
        found = pygit2.discover_repository(str(path))
    except pygit2.GitError as exc:
        raise NotAGitRepository(f"{path} is not inside a git repository: {exc}") from exc
    if found is None:
        where = Path(path).resolve()
        raise NotAGitRepository(
            f"{where} is not inside a git repository; run `git init` first or cd into one"
        )
    try:
        return pygit2.Repository(found)
    except pygit2.GitError as exc:
        if "not owned by current user" not in str(exc):
            raise
        # git's own check (CVE-2022-24765): say what git says, not an internal error.
        top = Path(found).parent if Path(found).name == ".git" else Path(found)
        raise DubiousOwnership(
            f"{top} is owned by another user, so git will not use it (dubious ownership); if "
            f"you trust it, run `git config --global --add safe.directory {top}`") from exc


def head_branch(repo: pygit2.Repository) -> str:
    """The branch HEAD points at (even before its first commit), else 'main'."""
    try:
        target = repo.lookup_reference("HEAD").target
    except (KeyError, pygit2.GitError):
        return "main"
    if isinstance(target, str) and target.startswith("refs/heads/"):
        return target.removeprefix("refs/heads/")
    return "main"


def common_dir(repo: pygit2.Repository) -> Path:
    """The git dir shared by all worktrees (where refs, objects and our lock live)."""
    gitdir = Path(repo.path)
    marker = gitdir / "commondir"
    if marker.exists():
        return (gitdir / marker.read_text().strip()).resolve()
    return gitdir.resolve()


class Store:
    """The state ref of one repository."""

    def __init__(self, repo: pygit2.Repository, actor: str | None = None) -> None:
        self.repo = repo
        self.actor = actor or default_actor()
        self.git_dir = common_dir(repo)
        self.data_dir = self.git_dir / "deksdenflow"
        # Run inside every transaction that changed something, after its own changes and in
        # the same commit: the workflow's reconciler (docs/decisions/0800).
        self.after: Callable[[Tx], None] | None = None
        # Run once a transaction's commit is published (never for one that was not): what
        # must happen only for facts that are on the ref, such as delivering a budget alert.
        self.published: Callable[[Tx], None] | None = None
        # The effective settings for a project.toml text (user config and DFLOW_* included):
        # set by the context that owns them, so redaction and every reader of a view's
        # settings use what the user configured, not project.toml alone.
        self.settings_of: Callable[[str], ProjectSettings] | None = None
        # Run once a commit built elsewhere (a merge, a fast-forward, an adopted state) is
        # published: what another clone's facts mean here, such as telling a person. Its
        # argument says whether this clone had no state before (a fresh clone's first state).
        self.adopted: Callable[[bool], None] | None = None
        self._parsed: dict[str, ProjectSettings] = {}  # project.toml blob id -> settings
        self._checked_settings: set[str] = set()  # project.toml blob ids known to be readable
        self.fsync = environment.flag("DFLOW_FSYNC")
        self._rollup = RollUp(self.git_dir / "objects", self.data_dir)
        # What the last commits wrote, so the next transaction reads its tip without
        # libgit2 listing the pack folder again (store/plumbing/pack.py, decision 1324).
        self._recent = RecentObjects()
        repo.odb.add_backend(self._recent, 0)
        self._trees = TreeCache()  # the bytes and entry offsets of the trees last edited
        # libgit2's process-wide options are set by the composition root (configure_libgit2).

    @property
    def workdir(self) -> Path | None:
        return Path(self.repo.workdir) if self.repo.workdir else None

    def head_branch(self) -> str:
        """The branch HEAD points at (even before its first commit), else 'main'."""
        return head_branch(self.repo)

    # --- the repository's own refs, for the services (they never see pygit2) --------------

    @property
    def head_is_unborn(self) -> bool:
        return bool(self.repo.head_is_unborn)

    def has_ref(self, name: str) -> bool:
        return self.repo.references.get(name) is not None

    def remote_names(self) -> list[str]:
        return [name for name in self.repo.remotes.names() if name]

    def ref_target(self, name: str) -> str | None:
        """The commit id a ref points at; None when there is no such ref."""
        ref = self.repo.references.get(name)
        return str(ref.target) if ref is not None else None

    def add_fetch_refspec(self, remote: str, spec: str) -> bool:
        """Add `spec` to the remote's fetch refspecs; False when it is there already."""
        if spec in self.repo.remotes[remote].fetch_refspecs:
            return False
        self.repo.remotes.add_fetch(remote, spec)
        return True

    def remote_url(self, remote: str = "origin") -> str:
        """The remote's URL; empty when there is no such remote."""
        try:
            return str(self.repo.remotes[remote].url or "")
        except (KeyError, ValueError):
            return ""

    # --- reading ----------------------------------------------------------------------------

    def tip(self) -> str | None:
        ref = self.repo.references.get(STATE_REF)
        return str(ref.target) if ref is not None else None

    @property
    def is_initialized(self) -> bool:
        return self.repo.references.get(STATE_REF) is not None

    def read(self) -> StateView:
        """The state at the current tip; raises NotInitialized before `dflow init`."""
        ref = self.repo.references.get(STATE_REF)
        if ref is None:
            raise NotInitialized(
                f"dflow is not set up in {self.workdir or self.git_dir}; run `dflow init` first"
            )
        self.check_trusted(str(ref.target))
        return StateView(self.repo, self._commit(ref), self._parsed, self.settings_of)

    def check_trusted(self, tip: str) -> None:
        """Refuse a tip dflow did not write or that fails validation (store/sharing/trust.py)."""
        known = trust.read(self.data_dir)
        if known == tip:
            return
        trust.verify(self.repo, known, tip)
        trust.remember(self.data_dir, tip)

    def view_at(self, commit_id: str) -> StateView:
        commit = self.repo.get(commit_id)
        if not isinstance(commit, pygit2.Commit):
            raise StateCorrupt(f"{commit_id} is not a commit")
        return StateView(self.repo, commit, self._parsed, self.settings_of)

    def _commit(self, ref: pygit2.Reference) -> pygit2.Commit:
        obj = self.repo.get(ref.target)
        if not isinstance(obj, pygit2.Commit):
            raise StateCorrupt(f"{STATE_REF} does not point at a commit; run `dflow doctor`")
        return obj

    # --- writing ----------------------------------------------------------------------------

    def lock(self, timeout: float | None = None) -> StateLock:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return StateLock(
            str(self.data_dir / "state.lock"),
            timeout=environment.seconds("DFLOW_LOCK_TIMEOUT") if timeout is None else timeout,
        )

    def initialize(self, project_text: str) -> bool:
        """Create the state ref with `project.toml`; False when it already existed."""
        with self._locked():
            if self.is_initialized:
                return False
            pack = PackWriter()
            edit = TreeEdit(self.repo, None, pack)
            edit.put(PROJECT_FILE, project_text.encode())
            edit.put(META_FILE, codec.dump_meta(0))
            commit = self._pack_commit(pack, edit.write(), [], "dflow: init")
            try:
                self.repo.references.create(STATE_REF, commit)
            except pygit2.AlreadyExistsError:
                return False
            trust.remember(self.data_dir, str(commit))
            return True

    def transact(self, fn: Callable[[Tx], T], message: str | None = None) -> T:
        """Run `fn` against the tip under the lock and publish its changes as one commit.

        A lost compare-and-swap (someone moved the ref without our lock) re-reads the tip
        and runs `fn` again, so `fn` must derive everything from the Tx it is given.
        """
        with self._locked():
            for _ in range(CAS_RETRIES):
                ref = self.repo.references.get(STATE_REF)
                if ref is None:
                    raise NotInitialized("dflow is not set up here; run `dflow init` first")
                self.check_trusted(str(ref.target))
                view = StateView(self.repo, self._commit(ref), self._parsed, self.settings_of)
                view.check_versions(self._checked_settings)
                tx = Tx(view, self.actor)
                result = fn(tx)
                if self.after is not None and tx.has_changes:
                    self.after(tx)
                if tx.run_deferred() and self.after is not None:
                    self.after(tx)  # what the deferred hooks changed is reconciled too
                if not tx.has_changes:
                    return result
                assert view.commit is not None and view.tree is not None
                pack = PackWriter()
                edit = TreeEdit(self.repo, view.tree, pack, self._trees)
                tx.build(edit)
                commit = self._pack_commit(pack, edit.write(), [view.commit.id],
                                           message or tx.summary())
                if self._publish(ref, commit):
                    trust.remember(self.data_dir, str(commit))
                    self._recent.remember(pack.objects)
                    self._after_commit()
                    tx.commit = str(commit)
                    if self.published is not None:
                        self.published(tx)
                    return result
            raise StateCorrupt(
                f"{STATE_REF} kept moving under the lock; is another tool writing it?"
            )

    def publish_commit(self, expected_tip: str | None, commit: pygit2.Oid,
                       tree_checked: bool = False) -> bool:
        """CAS the ref from `expected_tip` to `commit` (for merges built by the sync service,
        and a remote's state adopted by `dflow init`): what it brings is validated first, so a
        remote's corrupt or foreign state never becomes ours (`tree_checked`: its files were,
        against `expected_tip`'s, by `integrate.check_incoming`; the rest is checked here)."""
        ref = self.repo.references.get(STATE_REF)
        if (str(ref.target) if ref is not None else None) != expected_tip:
            return False
        if expected_tip is not None:
            self.check_trusted(expected_tip)
        trust.verify(self.repo, expected_tip, str(commit), tree_checked)
        if ref is None:
            try:
                self.repo.references.create(STATE_REF, commit)
            except pygit2.AlreadyExistsError:
                return False
        elif not self._publish(ref, commit):
            return False
        trust.remember(self.data_dir, str(commit))
        if self.adopted is not None:
            self.adopted(ref is None)
        return True

    def repair(self) -> tuple[str, str, str | None]:
        """Put the state ref back on the last good state; the other tip is kept under a
        quarantine ref. Returns (restored tip, tip found, quarantine ref or None)."""
        with self._locked():
            ref = self.repo.references.get(STATE_REF)
            if ref is None:
                raise NotInitialized("dflow is not set up here; run `dflow init` first")
            found = str(ref.target)
            known = trust.read(self.data_dir)
            good = trust.last_good(self.repo, known, found)
            if good is None:
                raise trust.StateUntrusted(
                    f"no good state of {STATE_REF} is left to restore in this clone; fetch "
                    "one from a remote (`git fetch origin refs/deksdenflow/state`) and run "
                    "`dflow init` in a fresh clone")
            if good == found:
                trust.remember(self.data_dir, good)
                return good, found, None
            kept = trust.quarantine(self.repo, found)
            self.repo.references.create(STATE_REF, pygit2.Oid(hex=good), force=True)
            trust.remember(self.data_dir, good)
            return good, found, kept

    def write_commit(self, tree: pygit2.Oid, parents: list[pygit2.Oid], message: str) -> pygit2.Oid:
        return self._write_commit(tree, parents, message)

    def _signature(self) -> pygit2.Signature:
        email = self.actor if "@" in self.actor else f"{self.actor}@dflow"
        return pygit2.Signature("dflow", " ".join(email.split()))

    def _write_commit(
        self, tree: pygit2.Oid, parents: list[pygit2.Oid], message: str
    ) -> pygit2.Oid:
        sig = self._signature()
        return self.repo.create_commit(None, sig, sig, message, tree, parents)

    def _pack_commit(self, pack: PackWriter, tree: pygit2.Oid, parents: list[pygit2.Oid],
                     message: str) -> pygit2.Oid:
        """The commit joins its trees and blobs in one pack, written before the ref can move
        to it (docs/decisions/1320-one-pack-per-state-commit.md)."""
        commit = pack.add(OBJ_COMMIT, commit_bytes(tree, parents, self._signature(), message))
        try:
            pack.write(self.git_dir / "objects", self.fsync)
        except OSError as exc:
            raise StateCorrupt(f"could not write the state commit's objects: {exc}") from exc
        return commit

    def _after_commit(self) -> None:
        """Keep reads fast: roll up small packs (under our lock), pack loose objects."""
        # Packing is an optimisation; never fail a published write over it.
        with contextlib.suppress(OSError, ValueError, struct.error):
            if self._rollup.maybe(self.fsync) is not None:
                self._reopen()
        maintenance.after_commit(self.git_dir)

    def _reopen(self) -> None:
        """Drop the packs a roll-up retired: libgit2 keeps a deleted pack mapped for as long as
        the Repository that opened it lives (an odb refresh does not unmap), so a long-lived
        store (a worker, the console) would never free their disk space and gather one mapping
        per few commits. A fresh Repository, with the in-memory backend registered again as at
        open, lets the old one go; everything else reads `self.repo` when it needs it."""
        repo = pygit2.Repository(self.repo.path)
        self._recent = self._recent.moved()
        repo.odb.add_backend(self._recent, 0)
        self.repo = repo

    def _publish(self, ref: pygit2.Reference, commit: pygit2.Oid) -> bool:
        """Compare-and-swap the ref; False when it moved since `ref` was read.

        git itself (`gc --auto` packing refs, `update-ref`, a fetch) locks the ref with
        `<ref>.lock` for a moment without our file lock: wait that out rather than fail."""
        wait_s = ref_lock_wait_s()
        deadline = time.monotonic() + wait_s
        nap = 0.001
        while True:
            try:
                ref.set_target(commit, "dflow")
                return True
            except (pygit2.GitError, OSError) as exc:
                if "old reference value does not match" in str(exc):
                    return False
                if "failed to lock file" not in str(exc):
                    raise StateCorrupt(f"could not move {STATE_REF}: {exc}") from exc
                if self._remove_stale_ref_lock():
                    continue
                if time.monotonic() > deadline:
                    raise LockTimeout(
                        f"{self.git_dir / STATE_REF}.lock has been held for "
                        f"{wait_s:.0f}s; if no git process is running, delete it"
                    ) from exc
            time.sleep(nap)
            nap = min(nap * 2, 0.05)

    def _remove_stale_ref_lock(self) -> bool:
        """A writer killed inside libgit2's ref update leaves `<ref>.lock` behind for good.
        Every dflow writer holds our state lock, so one older than git ever holds it for is
        stale: remove it (True) rather than wedge every later write."""
        path = self.git_dir / f"{STATE_REF}.lock"
        try:
            if time.time() - path.stat().st_mtime < STALE_REF_LOCK_S or not path.is_file():
                return False
            path.unlink()
        except OSError:
            return False
        return True

    @contextmanager
    def _locked(self) -> Iterator[None]:
        lock = self.lock()
        try:
            # The lock polls; a 50 ms nap would cap a busy worker pool at ~20 commits/s
            # whatever the commit cost, so wait in short naps instead.
            lock.acquire(poll_interval=LOCK_POLL_S)
        except LockBusy as exc:
            raise LockTimeout(
                f"another dflow process has held {lock.lock_file} for {lock.timeout:.0f}s; "
                "wait for it, or stop it if it hangs"
            ) from exc
        try:
            yield
        finally:
            lock.release()


def commit_bytes(tree: pygit2.Oid, parents: list[pygit2.Oid], sig: pygit2.Signature,
                 message: str) -> bytes:
    """A commit object's content, as libgit2's create_commit writes it."""
    offset = sig.offset
    zone = f"{'-' if offset < 0 else '+'}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"
    who = f"{sig.name} <{sig.email}> {sig.time} {zone}"
    head = [f"tree {tree}", *(f"parent {p}" for p in parents), f"author {who}",
            f"committer {who}"]
    return ("\n".join(head) + "\n\n" + message).encode()


def open_store(path: str | os.PathLike[str] = ".", actor: str | None = None) -> Store:
    return Store(open_repository(path), actor)
