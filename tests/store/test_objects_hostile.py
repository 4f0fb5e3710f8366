"""A crafted pack or loose object must make the pure-Python
reader give up at once, never inflate without bound. libgit2 (the fallback) stops at the
size the entry declares."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from deksdenflow.store.plumbing import pack
from tests.conftest import git

BOMB = 200 << 20  # what the crafted stream inflates to; the entry says 10 bytes

_PROBE = """
import json, sys
from deksdenflow.store.plumbing.objects import ObjectReader, Unreadable
try:
    ObjectReader(sys.argv[1]).read(sys.argv[2])
    how = "answered"
except Unreadable as e:
    how = "gave up"
# VmHWM is this program's own peak: ru_maxrss would also count the test process it was
# forked from (the kernel keeps the larger of the two across exec).
peak = next(int(line.split()[1]) for line in open("/proc/self/status")
            if line.startswith("VmHWM:"))
print(json.dumps([how, peak >> 10]))
"""


def _probe(git_dir: Path, oid: str) -> tuple[str, int]:
    done = subprocess.run([sys.executable, "-c", _PROBE, str(git_dir), oid],
                          capture_output=True, text=True, timeout=120, check=True)
    how, rss_mb = json.loads(done.stdout)
    return how, rss_mb


def _repo(tmp_path: Path) -> Path:
    git("init", "-q", str(tmp_path / "r"), cwd=tmp_path)
    return tmp_path / "r" / ".git"


def test_a_pack_entry_that_inflates_past_its_size_is_refused_without_inflating_it(
        tmp_path: Path) -> None:
    git_dir = _repo(tmp_path)
    oid = bytes.fromhex("ab" * 20)
    data = pack._entry_header(3, 10) + zlib.compress(b"\0" * BOMB, 9)
    pack.write_pack(git_dir / "objects" / "pack", [pack.Entry(oid, zlib.crc32(data), data)])
    how, rss_mb = _probe(git_dir, oid.hex())
    assert how == "gave up"
    assert rss_mb < 100, f"peak RSS {rss_mb} MB reading a 10-byte object"


@pytest.mark.parametrize("declared", [10, 2])  # 2: past the size within the first bytes
def test_a_loose_object_that_inflates_past_its_size_is_refused_without_inflating_it(
        tmp_path: Path, declared: int) -> None:
    git_dir = _repo(tmp_path)
    oid = "cd" * 20
    folder = git_dir / "objects" / oid[:2]
    folder.mkdir(parents=True)
    (folder / oid[2:]).write_bytes(zlib.compress(b"blob %d\0" % declared + b"\0" * BOMB, 9))
    how, rss_mb = _probe(git_dir, oid)
    assert how == "gave up"
    assert rss_mb < 100, f"peak RSS {rss_mb} MB reading a {declared}-byte object"

def _ofs(distance: int) -> bytes:
    out = [distance & 0x7F]
    distance >>= 7
    while distance:
        distance -= 1
        out.insert(0, 0x80 | (distance & 0x7F))
        distance >>= 7
    return bytes(out)


def test_a_delta_that_builds_past_its_declared_size_is_refused_without_building_it(
        tmp_path: Path) -> None:
    """4,000 one-byte copy instructions of a 64 KiB base: a 4 KiB delta that says it builds
    10 bytes and builds 256 MiB."""
    git_dir = _repo(tmp_path)
    base = pack._entry_header(3, 1 << 16) + zlib.compress(b"\0" * (1 << 16), 9)
    delta = bytes([0x80, 0x80, 0x04, 10]) + bytes([0x80]) * 4000  # source 65536, target 10
    entry = pack._entry_header(6, len(delta)) + _ofs(len(base)) + zlib.compress(delta, 9)
    oid = bytes.fromhex("ef" * 20)
    base_oid = bytes.fromhex("01" * 20)
    pack.write_pack(git_dir / "objects" / "pack",
                    [pack.Entry(base_oid, zlib.crc32(base), base),
                     pack.Entry(oid, zlib.crc32(entry), entry)])
    how, rss_mb = _probe(git_dir, oid.hex())
    assert how == "gave up"
    assert rss_mb < 100, f"peak RSS {rss_mb} MB reading a 10-byte object"
