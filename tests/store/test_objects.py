"""The pure-Python object reader against real git: every object it returns is what
`git cat-file` prints; whatever it cannot read for certain makes it give up, never answer."""

from __future__ import annotations

import os
import shutil
import subprocess
import zlib
from pathlib import Path

import pygit2
import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import RunNote
from deksdenflow.store import STATE_REF
from deksdenflow.store.lite import LiteView
from deksdenflow.store.plumbing.objects import ObjectReader, Unreadable, apply_delta, tree_entries
from tests.conftest import git, make_repo
from tests.store.conftest import add_run


def every_object(repo: Path) -> dict[str, tuple[str, bytes]]:
    """{id: (type, content)} of every object in the repository, as git reads it."""
    listing = git("cat-file", "--batch-all-objects", "--batch-check=%(objectname)", cwd=repo)
    ids = listing.split()
    out = subprocess.run(["git", "cat-file", "--batch"], cwd=repo, check=True,
                         input="\n".join(ids).encode() + b"\n", capture_output=True).stdout
    found, at = {}, 0
    for oid in ids:
        end = out.index(b"\n", at)
        name, kind, size = out[at:end].decode().split()
        assert name == oid
        found[oid] = (kind, out[end + 1:end + 1 + int(size)])
        at = end + 1 + int(size) + 1
    return found


def assert_reads_like_git(repo: Path) -> int:
    expected = every_object(repo)
    assert expected
    with ObjectReader(str(repo / ".git")) as reader:
        for oid, want in expected.items():
            assert reader.read(oid) == want, oid
    return len(expected)


def history(repo: Path, commits: int = 40) -> None:
    """Commits that change a growing file a little each time: what git deltifies."""
    lines = [f"line {i} of a file that grows and changes\n" for i in range(200)]
    for k in range(commits):
        lines[(k * 7) % len(lines)] = f"changed in commit {k}\n"
        lines.append(f"appended in commit {k}\n")
        (repo / "notes.txt").write_text("".join(lines))
        (repo / "sub").mkdir(exist_ok=True)
        (repo / "sub" / f"f{k % 5}.txt").write_text("x" * k)
        git("add", "-A", cwd=repo)
        git("commit", "-q", "-m", f"commit {k}", cwd=repo)


def entry_kinds(repo: Path) -> set[str]:
    """The kinds of the entries in the repository's one pack, as stored."""
    idx = next((repo / ".git" / "objects" / "pack").glob("*.idx"))
    out = git("verify-pack", "-v", str(idx), cwd=repo)
    offsets = [int(line.split()[4]) for line in out.splitlines()
               if len(line.split()) >= 5 and len(line.split()[0]) == 40]
    data = idx.with_suffix(".pack").read_bytes()
    names = {1: "commit", 2: "tree", 3: "blob", 4: "tag", 6: "ofs-delta", 7: "ref-delta"}
    return {names[(data[at] >> 4) & 7] for at in offsets}


def test_loose_objects_read_as_git_reads_them(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", files={"a.txt": "a\n", "d/b.txt": "b\n", "e": ""})
    history(repo, 3)
    assert not list((repo / ".git" / "objects" / "pack").glob("*.pack"))
    assert assert_reads_like_git(repo) > 10


def test_dflow_state_packs_read_as_git_reads_them(project: Project, repo: Path) -> None:
    uids = [add_run(project.store, f"run{k}") for k in range(3)]
    for uid in uids:
        project.store.transact(lambda tx, uid=uid: tx.emit(RunNote(text="hi"), run=uid))
    assert len(list((repo / ".git" / "objects" / "pack").glob("*.idx"))) > 1
    assert_reads_like_git(repo)


@pytest.mark.parametrize(("repack", "delta"), [
    (["gc", "-q", "--aggressive"], "ofs-delta"),
    (["repack", "-q", "-adf", "--depth=50", "--window=50"], "ofs-delta"),
    (["-c", "repack.useDeltaBaseOffset=false", "repack", "-q", "-adf", "--depth=50"],
     "ref-delta"),
], ids=["gc", "ofs-delta", "ref-delta"])
def test_deltified_packs_read_as_git_reads_them(tmp_path: Path, repack: list[str],
                                                delta: str) -> None:
    repo = make_repo(tmp_path / "r")
    history(repo)
    git(*repack, cwd=repo)
    assert not list((repo / ".git" / "objects").glob("??/*"))  # everything is packed
    assert delta in entry_kinds(repo)
    assert assert_reads_like_git(repo) > 100


def test_an_index_with_64_bit_offsets_is_read(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    history(repo, 10)
    git("repack", "-q", "-adf", cwd=repo)
    pack = next((repo / ".git" / "objects" / "pack").glob("*.pack"))
    idx = pack.with_suffix(".idx")
    before = idx.stat().st_size
    idx.unlink()
    # every offset above 100 goes to the 64-bit table
    git("index-pack", "--index-version=2,100", str(pack), cwd=repo)
    assert idx.stat().st_size > before
    assert_reads_like_git(repo)


def test_a_thin_base_in_another_pack_is_found(tmp_path: Path) -> None:
    """A REF_DELTA whose base is in another pack (a thin pack kept as fetched)."""
    repo = make_repo(tmp_path / "r")
    history(repo, 10)
    git("repack", "-q", "-adf", cwd=repo)
    old = git("rev-parse", "HEAD", cwd=repo)
    history(repo, 5)
    new = git("rev-parse", "HEAD", cwd=repo)
    thin = subprocess.run(["git", "pack-objects", "--thin", "--stdout", "--revs"], cwd=repo,
                          input=f"{new}\n^{old}\n".encode(), capture_output=True,
                          check=True).stdout
    clone = tmp_path / "c"
    git("clone", "-q", "--no-local", str(repo), str(clone), cwd=tmp_path)
    git("reset", "-q", "--hard", old, cwd=clone)
    git("-c", "gc.auto=0", "reflog", "expire", "--expire=now", "--all", cwd=clone)
    subprocess.run(["git", "index-pack", "--stdin", "--fix-thin", "--keep"], cwd=clone,
                   input=thin, capture_output=True, check=True)
    assert_reads_like_git(clone)


def test_a_delta_is_applied_as_git_defines_it() -> None:
    base = b"0123456789" * 10
    # sizes 100 -> 14; copy 4 bytes at offset 2; insert "abc"; copy 7 bytes at 0x5a
    delta = bytes([100, 14, 0x80 | 0x01 | 0x10, 2, 4, 3]) + b"abc" + bytes(
        [0x80 | 0x01 | 0x10, 0x5A, 7])
    assert apply_delta(base, delta) == b"2345abc0123456"
    with pytest.raises(Unreadable):
        apply_delta(base[:-1], delta)  # made for a base of another size
    with pytest.raises(Unreadable):
        apply_delta(base, delta[:-1])  # cut short


# --- hostile cases: give up, never answer wrongly -------------------------------------------


def packed_repo(tmp_path: Path) -> tuple[Path, Path, dict[str, tuple[str, bytes]]]:
    repo = make_repo(tmp_path / "r")
    history(repo, 15)
    git("repack", "-q", "-adf", "--depth=50", cwd=repo)
    pack = next((repo / ".git" / "objects" / "pack").glob("*.pack"))
    return repo, pack, every_object(repo)


def outcomes(repo: Path, expected: dict[str, tuple[str, bytes]]) -> tuple[int, int]:
    """(right answers, refusals); a wrong answer fails the test."""
    right = refused = 0
    with ObjectReader(str(repo / ".git")) as reader:
        for oid, want in expected.items():
            try:
                got = reader.read(oid)
            except Unreadable:
                refused += 1
                continue
            assert got == want, f"a wrong answer for {oid}"
            right += 1
    return right, refused


def test_a_truncated_pack_gives_up(tmp_path: Path) -> None:
    repo, pack, expected = packed_repo(tmp_path)
    data = pack.read_bytes()
    os.chmod(pack, 0o644)
    pack.write_bytes(data[: len(data) // 2])
    right, refused = outcomes(repo, expected)
    assert refused > 0


def test_changed_bytes_in_a_pack_give_up(tmp_path: Path) -> None:
    repo, pack, expected = packed_repo(tmp_path)
    data = bytearray(pack.read_bytes())
    os.chmod(pack, 0o644)
    for at in range(40, len(data) - 20, 97):  # flip bits all through the entries
        data[at] ^= 0x55
    pack.write_bytes(bytes(data))
    right, refused = outcomes(repo, expected)
    assert refused > len(expected) // 2


def test_a_loose_object_with_another_objects_bytes_gives_up(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", files={"a.txt": "a\n", "b.txt": "b\n"})
    a = git("rev-parse", "HEAD:a.txt", cwd=repo)
    b = git("rev-parse", "HEAD:b.txt", cwd=repo)
    path_a = repo / ".git" / "objects" / a[:2] / a[2:]
    path_b = repo / ".git" / "objects" / b[:2] / b[2:]
    os.chmod(path_a, 0o644)
    shutil.copyfile(path_b, path_a)
    with ObjectReader(str(repo / ".git")) as reader, pytest.raises(Unreadable):
        reader.read(a)
    path_a.write_bytes(zlib.compress(b"blob 5\0a\n"))  # a header that lies about the size
    with ObjectReader(str(repo / ".git")) as reader, pytest.raises(Unreadable):
        reader.read(a)


def test_a_pack_index_pointing_at_the_wrong_entry_gives_up(tmp_path: Path) -> None:
    repo, pack, expected = packed_repo(tmp_path)
    idx = pack.with_suffix(".idx")
    data = bytearray(idx.read_bytes())
    count = int.from_bytes(data[8 + 255 * 4: 8 + 256 * 4], "big")
    offsets = 8 + 1024 + 24 * count
    first = data[offsets:offsets + 4]
    data[offsets:offsets + 4] = data[offsets + 4:offsets + 8]  # two ids, one entry
    data[offsets + 4:offsets + 8] = first
    os.chmod(idx, 0o644)
    idx.write_bytes(bytes(data))
    right, refused = outcomes(repo, expected)
    assert refused >= 2


def test_what_the_reader_does_not_know_makes_it_give_up(tmp_path: Path) -> None:
    sha256 = tmp_path / "sha256"
    git("init", "-q", "--object-format=sha256", str(sha256), cwd=tmp_path)
    with pytest.raises(Unreadable):
        ObjectReader(str(sha256 / ".git"))
    source = make_repo(tmp_path / "source")
    borrower = tmp_path / "borrower"
    git("clone", "-q", "--shared", str(source), str(borrower), cwd=tmp_path)
    with pytest.raises(Unreadable):
        ObjectReader(str(borrower / ".git"))
    repo = make_repo(tmp_path / "r")
    git("repack", "-q", "-ad", "--write-midx", cwd=repo)
    head = git("rev-parse", "HEAD", cwd=repo)
    for idx in (repo / ".git" / "objects" / "pack").glob("*.idx"):
        idx.unlink()  # only the multi-pack-index knows where the objects are
    with ObjectReader(str(repo / ".git")) as reader, pytest.raises(Unreadable):
        reader.read(head)
    with ObjectReader(str(repo / ".git")) as reader, pytest.raises(Unreadable):
        reader.read("0" * 40)  # not there at all


def test_trees_are_parsed_as_git_lists_them(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", files={"a b.txt": "1", "dir/x": "2", "ü.txt": "3"})
    (repo / "run.sh").write_text("#!/bin/sh\n")
    (repo / "run.sh").chmod(0o755)
    os.symlink("a b.txt", repo / "link")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "more", cwd=repo)
    with ObjectReader(str(repo / ".git")) as reader:
        kind, data = reader.read(git("rev-parse", "HEAD^{tree}", cwd=repo))
    assert kind == "tree"
    listed = git("-c", "core.quotepath=off", "ls-tree", "HEAD", cwd=repo).splitlines()
    want = {line.split("\t")[1]: (line.split()[0].lstrip("0"), line.split()[2])
            for line in listed}
    got = {name: (mode.decode(), oid) for name, (mode, oid) in tree_entries(data).items()}
    assert got == want


# --- LiteView on the reader -----------------------------------------------------------------


def test_lite_view_reads_the_state_without_pygit2_and_gives_up_where_it_cannot(project: Project,
                                                                 repo: Path) -> None:
    uids = [add_run(project.store, f"run{k}") for k in range(3)]
    tip = git("rev-parse", STATE_REF, cwd=repo)
    common = str(repo / ".git")
    view = LiteView(common, tip)
    dirs = view.run_dirs()
    assert sorted(dirs) == sorted(uids)
    for uid in uids:
        bucket = uid[:5]
        assert dirs[uid] == git("rev-parse", f"{tip}:runs/{bucket}/{uid}", cwd=repo)
        assert view.snapshot(uid) == subprocess.run(
            ["git", "cat-file", "blob", f"{tip}:runs/{bucket}/{uid}/run.json"], cwd=repo,
            capture_output=True, check=True).stdout
    assert view.blob_id("project.toml") == git("rev-parse", f"{tip}:project.toml", cwd=repo)
    assert view.blob_id("no/such") == "" and view.snapshot("zz-missing") is None
    folder = f"runs/{uids[0][:5]}/{uids[0]}"
    assert view.files(folder) == {"run.json": view.snapshot(uids[0])}  # not the events/ tree
    assert view.files("no/such") == {} and view.files("project.toml") == {}
    assert view.uses_libgit2 is False
    # an object store the reader does not know: it gives up (the command reads through
    # libgit2, decision 1603); a caller with libgit2 open gets the same answers through it
    alternates = repo / ".git" / "objects" / "info" / "alternates"
    alternates.parent.mkdir(exist_ok=True)
    alternates.write_text("")
    with pytest.raises(Unreadable):
        LiteView(common, tip)
    fallback = LiteView(pygit2.Repository(common), tip)
    assert fallback.run_dirs() == dirs and fallback.uses_libgit2 is True
    assert fallback.snapshot(uids[0]) == view.snapshot(uids[0])
    assert fallback.files(folder) == view.files(folder)
