"""The write path's own costs: what it parses once, what it writes per commit."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pygit2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deksdenflow.domain.eventlog.payloads import RunNote, StepStarted
from deksdenflow.domain.runs.models import StepStatus
from deksdenflow.store import STATE_REF, Store, Tx
from deksdenflow.store.encoding.layout import artifact_path
from deksdenflow.store.plumbing import pack
from deksdenflow.store.plumbing.pack import PackWriter
from deksdenflow.store.plumbing.tree import TreeCache, TreeEdit
from tests.conftest import git
from tests.store.conftest import add_run


def test_settings_are_parsed_once_per_project_toml_version_and_follow_an_edit(
        store: Store) -> None:
    uid = add_run(store, steps=0)
    first = store.read().settings()
    store.transact(lambda tx: tx.emit(RunNote(text="1"), run=uid) and None)
    assert store.read().settings() is first  # same project.toml blob: not parsed again
    text = store.read().project_text().replace("max_bytes = 262144", "max_bytes = 4096")
    if text == store.read().project_text():
        text += "\n[artifacts]\nmax_bytes = 4096\n"

    def edit(tx: Tx) -> None:
        tx.set_project_text(text)

    store.transact(edit)
    changed = store.read().settings()
    assert changed is not first and changed.artifacts.max_bytes == 4096


def _loose(repo: Path) -> set[str]:
    objects = repo / ".git" / "objects"
    return {f"{d.name}{f.name}" for d in objects.iterdir() if len(d.name) == 2
            for f in d.iterdir()}


def _packs(repo: Path) -> set[str]:
    return {p.name for p in (repo / ".git" / "objects" / "pack").glob("pack-*.idx")}


def _fsck(repo: Path) -> None:
    out = subprocess.run(["git", "fsck", "--full", "--strict", "--no-dangling"], cwd=repo,
                         capture_output=True, text=True)
    assert out.returncode == 0 and not out.stderr.strip(), out.stdout + out.stderr


def test_a_state_commit_is_one_pack_that_git_verifies_and_no_loose_object(
        store: Store, repo: Path) -> None:
    uid = add_run(store, steps=2)
    loose, packs = _loose(repo), _packs(repo)

    def note(tx: Tx) -> None:
        tx.emit(StepStarted(), run=uid, step=1)
        tx.put_artifact(uid, "notes/a.txt", b"x" * 5000)

    store.transact(note)
    assert _loose(repo) == loose
    (new,) = _packs(repo) - packs
    pack_dir = repo / ".git" / "objects" / "pack"
    verified = git("verify-pack", "-v", str(pack_dir / new), cwd=repo)
    tip = git("rev-parse", STATE_REF, cwd=repo)
    assert tip in verified and "chain length" not in verified  # whole objects, no deltas
    for part in (new, new.replace(".idx", ".pack")):  # read-only, as git leaves packs
        assert (pack_dir / part).stat().st_mode & 0o777 == 0o444
    assert not list(pack_dir.glob("tmp_*"))
    assert git("show", f"{STATE_REF}:{artifact_path(uid, 'notes/a.txt')}", cwd=repo) == "x" * 5000
    _fsck(repo)
    assert store.read().run(uid).step(1).status == StepStatus.RUNNING  # type: ignore[union-attr]


def test_small_packs_are_rolled_up_and_every_state_stays_readable(
        store: Store, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uid = add_run(store, steps=0)
    for n in range(3 * pack.ROLL_UP_AT):
        store.transact(lambda tx, n=n: tx.emit(RunNote(text=str(n)), run=uid)
                       and None)
    assert len(_packs(repo)) < pack.ROLL_UP_AT
    retired = (store.data_dir / "retired-packs").read_text().split()
    assert retired and all((repo / ".git/objects/pack" / name).exists()
                           for name in retired[1::2])  # data kept a while for readers
    _fsck(repo)
    tips = git("rev-list", STATE_REF, cwd=repo).split()
    for tip in tips:  # every commit's whole tree, through git
        git("ls-tree", "-r", tip, cwd=repo)
    notes = [int(e.data.text) for e in store.read().run_events(uid) if isinstance(e.data, RunNote)]
    assert sorted(notes) == list(range(3 * pack.ROLL_UP_AT))
    monkeypatch.setattr(pack.RollUp, "RETIRE_AFTER_S", -1.0)
    for n in range(pack.ROLL_UP_AT):
        store.transact(lambda tx, n=n: tx.emit(RunNote(text=f"m{n}"), run=uid)
                       and None)
    gone = [name for name in retired[1::2] if not (repo / ".git/objects/pack" / name).exists()]
    assert gone == retired[1::2]
    _fsck(repo)


def test_a_long_lived_store_lists_the_pack_folder_far_less_than_once_per_commit(
        store: Store, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uid = add_run(store, steps=0)
    pack_dir = repo / ".git" / "objects" / "pack"
    listings: list[str] = []
    real = os.listdir

    def listdir(path: str | os.PathLike[str]) -> list[str]:
        listings.append(str(path))
        return real(path)

    monkeypatch.setattr(pack.os, "listdir", listdir)
    most = 0
    for n in range(4 * pack.ROLL_UP_AT):
        store.transact(lambda tx, n=n: tx.emit(RunNote(text=str(n)), run=uid) and None)
        most = max(most, len(_packs(repo)))
    assert 3 * listings.count(str(pack_dir)) <= 4 * pack.ROLL_UP_AT  # was once a commit
    assert most <= pack.ROLL_UP_AT + 1  # and the roll-up still comes in time
    _fsck(repo)


_NAMES = st.sampled_from(["a", "b.json", "events", "01JABCDEFGHJKMNPQRSTVWXYZ0",
                          "01JABCDEFGHJKMNPQRSTVWXYZ1.json", "run.json", "a-b", "da.json",
                          "da-b", "da0"])
_PATHS = st.lists(_NAMES, min_size=1, max_size=3).map(
    lambda parts: "/".join([*(f"d{p}" for p in parts[:-1]), parts[-1]]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(base=st.dictionaries(_PATHS, st.binary(max_size=8), max_size=12),
       edits=st.lists(st.tuples(_PATHS, st.none() | st.binary(max_size=8)), max_size=8))
def test_trees_are_the_ones_git_builds(store: Store, base: dict[str, bytes],
                                       edits: list[tuple[str, bytes | None]]) -> None:
    repo = store.repo
    base_tree = _index_tree(repo, base)
    ours = TreeEdit(repo, base_tree, PackWriter())
    expected = dict(base)
    touched = set(base)
    for path, data in edits:
        if any(p.startswith(f"{path}/") or path.startswith(f"{p}/") for p in touched):
            continue  # a file where a folder is (or the reverse): not an edit dflow makes
        touched.add(path)
        if data is None:
            ours.delete(path)
            expected.pop(path, None)
        else:
            ours.put(path, data)
            expected[path] = data
    assert ours.write() == _index_tree(repo, expected).id


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(st.tuples(_PATHS, st.none() | st.binary(max_size=8)),
                                 max_size=5), min_size=2, max_size=5))
def test_trees_edited_through_the_cache_are_the_ones_git_builds(
        store: Store, batches: list[list[tuple[str, bytes | None]]]) -> None:
    """Each edit starts from the trees the one before it wrote, as consecutive transactions
    do: the cached bytes and entry offsets (spliced, appended, rebuilt) stay right."""
    repo, cache = store.repo, TreeCache()
    tree: pygit2.Tree | None = None
    files: dict[str, bytes] = {}
    for batch in batches:
        writer = PackWriter()
        edit = TreeEdit(repo, tree, writer, cache)
        touched: set[str] = set()
        for path, data in batch:
            if path in touched or any(p.startswith(f"{path}/") or path.startswith(f"{p}/")
                                      for p in [*files, *touched]):
                continue  # a file where a folder is (or the reverse): not an edit dflow makes
            touched.add(path)
            if data is None:
                edit.delete(path)
                files.pop(path, None)
            else:
                edit.put(path, data)
                files[path] = data
        new = edit.write()
        writer.write(Path(repo.path) / "objects")
        assert new == _index_tree(repo, files).id
        found = repo.get(new)
        assert isinstance(found, pygit2.Tree)
        tree = found


def _index_tree(repo: pygit2.Repository, files: dict[str, bytes]) -> pygit2.Tree:
    index = pygit2.Index()
    for path, data in files.items():
        if any(p.startswith(f"{path}/") for p in files):
            continue
        index.add(pygit2.IndexEntry(path, repo.create_blob(data), pygit2.enums.FileMode.BLOB))
    tree = repo.get(index.write_tree(repo))
    assert isinstance(tree, pygit2.Tree)
    return tree


def test_a_changed_entry_is_spliced_even_when_another_name_ends_with_its_name(
        store: Store) -> None:
    repo = store.repo
    name = "y" * 20 + ".log"
    base = _index_tree(repo, {f"x {name}": b"a", name: b"b"})
    edit = TreeEdit(repo, base, PackWriter())
    edit.put(name, b"c")
    assert edit.write() == _index_tree(repo, {f"x {name}": b"a", name: b"c"}).id


@pytest.mark.parametrize("sizes", [[664, 1700, 1700, 1800, 1900], [10] * 16,
                                   [100, 150, 5000, 5001, 20000, 50000]])
def test_the_roll_up_leaves_a_geometric_progression(sizes: list[int]) -> None:
    packs = [(size, Path(f"pack-{n}.pack")) for n, size in enumerate(sizes)]
    merged = pack._geometric_prefix(packs)
    assert len(merged) >= 2  # a tiny first pack must not stop it
    left = sorted([sum(size for size, p in packs if p in merged)]
                  + [size for size, p in packs if p not in merged])
    assert all(left[i] >= 2 * sum(left[:i]) for i in range(1, len(left))), left


def test_a_long_lived_store_keeps_a_bounded_number_of_pack_files_open(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from deksdenflow.store.plumbing import libgit2

    monkeypatch.setattr(libgit2, "PACK_FILE_LIMIT", 8)
    libgit2.configure_libgit2(fsync=False)  # as the composition root does, with a small cap
    try:
        uid = add_run(store, steps=0)
        for n in range(40):  # one pack each, every one read back by the next transaction
            store.transact(lambda tx, n=n: tx.emit(RunNote(text=str(n)), run=uid) and None)
        assert len(store.read().run_events(uid)) > 40
        open_packs = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                      if os.path.islink(f"/proc/self/fd/{fd}")]
        assert sum(p.endswith(".pack") for p in open_packs) <= 8 + 1
    finally:
        monkeypatch.undo()
        libgit2.configure_libgit2(fsync=False)


def test_packs_under_a_multi_pack_index_are_left_to_git(store: Store, repo: Path) -> None:
    objects = repo / ".git" / "objects"
    for n in range(pack.ROLL_UP_AT):
        writer = PackWriter()
        writer.add(3, f"blob {n}\n".encode())
        writer.write(objects)
    git("multi-pack-index", "write", cwd=repo)
    rollup = pack.RollUp(objects, store.data_dir)
    assert rollup.maybe() is None  # git maintenance owns these packs
    (objects / "pack" / "multi-pack-index").unlink()
    assert rollup.maybe() is not None
    _fsck(repo)
