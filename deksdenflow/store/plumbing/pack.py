"""A commit's objects written as one small pack instead of a dozen loose files.

A loose object costs a file create and a rename (~0.2-0.8 ms each on a busy disk); a state
commit has ~15 of them. A pack of the same objects costs two files (`.pack`, then the `.idx`
that makes it visible), written before the ref moves, so a writer killed at any point leaves
at most an unreferenced pack or a temporary file, never a ref pointing at a missing object
(docs/decisions/1320-one-pack-per-state-commit.md).

Small packs are rolled up geometrically (each remaining pack at least twice the size of all
smaller ones together), so their number stays logarithmic and far below git's
`gc.autoPackLimit`; the roll-up copies the compressed entries as they are (our packs hold no
deltas), so it costs a copy of bytes, not a recompression.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import struct
import time
import zlib
from collections import deque
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from pathlib import Path

import pygit2

from . import objects

TYPE_NAMES = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}
ROLL_UP_AT = 16  # small packs before a roll-up
SMALL_PACK_BYTES = 4 << 20  # larger packs are git's business (gc, repack)
_NOT_OURS = (".keep", ".promisor", ".mtimes", ".bitmap")
_IDX_MAGIC = b"\377tOc" + struct.pack(">I", 2)


@dataclass(frozen=True)
class Entry:
    oid: bytes  # raw 20 bytes
    crc: int
    data: bytes  # the entry as stored in the pack: type/size header + zlib stream


class PackWriter:
    """Collects objects (deduplicated by id) and writes them as one pack."""

    def __init__(self) -> None:
        self._entries: dict[bytes, Entry] = {}
        self.objects: dict[bytes, tuple[int, bytes]] = {}  # raw id -> (type, content)

    def add(self, kind: int, data: bytes) -> pygit2.Oid:
        oid = hashlib.sha1(b"%s %d\0" % (TYPE_NAMES[kind], len(data)) + data).digest()
        if oid not in self._entries:
            packed = _entry_header(kind, len(data)) + zlib.compress(data, 1)
            self._entries[oid] = Entry(oid, zlib.crc32(packed), packed)
            self.objects[oid] = (kind, data)
        return pygit2.Oid(raw=oid)

    def __len__(self) -> int:
        return len(self._entries)

    def write(self, objects_dir: Path, fsync: bool = False) -> Path | None:
        """Write the pack and its index into `objects_dir/pack`; returns the .pack path."""
        if not self._entries:
            return None
        return write_pack(objects_dir / "pack", list(self._entries.values()), fsync)


def _entry_header(kind: int, size: int) -> bytes:
    out = bytearray()
    byte = (kind << 4) | (size & 0x0F)
    size >>= 4
    while size:
        out.append(byte | 0x80)
        byte = size & 0x7F
        size >>= 7
    out.append(byte)
    return bytes(out)


def write_pack(pack_dir: Path, entries: list[Entry], fsync: bool = False) -> Path:
    """`.pack` first, then `.idx`, each through a temporary file and a rename: git and
    libgit2 only see a pack once its index exists."""
    head = b"PACK" + struct.pack(">II", 2, len(entries))
    offsets, at = [], len(head)
    for entry in entries:
        offsets.append(at)
        at += len(entry.data)
    if at >= 1 << 31:
        raise ValueError("a state commit's pack must stay under 2 GiB")
    body = b"".join([head, *(e.data for e in entries)])
    checksum = hashlib.sha1(body).digest()
    index = _index(entries, offsets, checksum)
    name = f"pack-{checksum.hex()}"
    final = pack_dir / f"{name}.pack"
    _write_file(pack_dir, final, body + checksum, fsync)
    _write_file(pack_dir, pack_dir / f"{name}.idx", index, fsync)
    if fsync:
        _fsync_dir(pack_dir)
    return final


def _index(entries: list[Entry], offsets: list[int], checksum: bytes) -> bytes:
    order = sorted(range(len(entries)), key=lambda i: entries[i].oid)
    fanout = [0] * 256
    for entry in entries:
        fanout[entry.oid[0]] += 1
    running = 0
    for i in range(256):
        running += fanout[i]
        fanout[i] = running
    parts = [_IDX_MAGIC, struct.pack(">256I", *fanout),
             b"".join(entries[i].oid for i in order),
             struct.pack(f">{len(order)}I", *(entries[i].crc for i in order)),
             struct.pack(f">{len(order)}I", *(offsets[i] for i in order)), checksum]
    data = b"".join(parts)
    return data + hashlib.sha1(data).digest()


def _write_file(folder: Path, final: Path, data: bytes, fsync: bool) -> None:
    # A fresh name each time (as git's tmp_pack_XXXXXX): a read-only leftover of a killed
    # writer must not block the next process that happens to get the same pid. Created
    # read-only (as git leaves packs) in one call: a chmod is one more inode change.
    while True:
        tmp = folder / f"tmp_dflow_{final.suffix[1:]}_{os.getpid()}_{secrets.token_hex(4)}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
            break
        except FileExistsError:
            continue
        except FileNotFoundError:
            folder.mkdir(parents=True, exist_ok=True)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class RollUp:
    """Rolls this repository's small packs into one, keeping their count logarithmic.

    A rolled-up pack loses its index at once (no new reader finds it) and its data after
    `RETIRE_AFTER_S`, so a reader that found the object in it a moment earlier can still read
    it; the retired names are kept in the store's data dir."""

    RETIRE_AFTER_S = 120.0

    def __init__(self, objects_dir: Path, data_dir: Path) -> None:
        self.pack_dir = objects_dir / "pack"
        self.retired = data_dir / "retired-packs"
        self._foreign: set[str] = set()  # packs with deltas or big offsets: git's to handle
        # Commits to let pass before listing the pack folder again: after a listing that
        # found k packs, at least ROLL_UP_AT - k more commits are needed to reach a roll-up;
        # half of that is skipped, leaving room for the other processes' packs.
        self._skip = 0

    def maybe(self, fsync: bool = False) -> Path | None:
        """Roll up when ROLL_UP_AT small packs have gathered; returns the new pack."""
        if self._skip > 0:
            self._skip -= 1
            return None
        small = self._small_packs()
        if len(small) < ROLL_UP_AT:
            return None
        chosen = _geometric_prefix(small)
        entries: dict[bytes, Entry] = {}
        used: list[Path] = []
        for pack in chosen:
            read = _read_entries(pack)
            if read is None:
                self._foreign.add(pack.name)
                continue
            used.append(pack)
            for entry in read:
                entries.setdefault(entry.oid, entry)
        if len(used) < 2:
            return None
        # Always synced: the packs it replaces hold settled history, and their indexes go next;
        # a power cut must not find the merged pack empty and theirs gone.
        merged = write_pack(self.pack_dir, list(entries.values()), fsync=True)
        self._retire([p for p in used if p != merged])
        return merged

    def _small_packs(self) -> list[tuple[int, Path]]:
        """Our packs under SMALL_PACK_BYTES, smallest first; none at all while fewer than
        ROLL_UP_AT packs exist (this runs after every commit: one directory listing, no stat)."""
        try:
            names = set(os.listdir(self.pack_dir))
        except OSError:
            return []
        if "multi-pack-index" in names:
            return []  # git maintenance indexes these packs: repacking is git's business here
        stems = [name[:-5] for name in names if name.endswith(".pack") and
                 name.startswith("pack-") and name not in self._foreign and
                 f"{name[:-5]}.idx" in names]
        if len(stems) < ROLL_UP_AT:
            self._skip = (ROLL_UP_AT - len(stems)) // 2
            return []
        found = []
        for stem in stems:
            if any(f"{stem}{x}" in names for x in _NOT_OURS):
                continue
            path = self.pack_dir / f"{stem}.pack"
            try:
                size = path.stat().st_size
            except OSError:
                continue
            if size < SMALL_PACK_BYTES:
                found.append((size, path))
        return sorted(found)

    def _retire(self, packs: list[Path]) -> None:
        now = time.time()
        lines = self._retired_lines() + [f"{now:.0f} {pack.name}" for pack in packs]
        keep = []
        for line in lines:
            stamp, _, name = line.partition(" ")
            if now - float(stamp) > self.RETIRE_AFTER_S:
                with _quietly():
                    (self.pack_dir / name).unlink()
            else:
                keep.append(line)
        # Listed before the indexes go, so a kill in between leaves no pack nobody removes.
        self.retired.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.retired.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text("".join(f"{line}\n" for line in keep))
        os.replace(tmp, self.retired)
        for pack in packs:
            for index in (".idx", ".rev"):
                with _quietly():
                    pack.with_suffix(index).unlink()

    def _retired_lines(self) -> list[str]:
        try:
            text = self.retired.read_text()
        except OSError:
            return []
        return [ln for ln in text.splitlines() if ln.count(" ") == 1 and ln.split()[0].isdigit()]


def _geometric_prefix(packs: list[tuple[int, Path]]) -> list[Path]:
    """The smallest packs to merge so that each pack left is at least twice the size of all
    smaller ones together (git's `repack --geometric=2`): everything up to the last pack
    that breaks the progression. (Stopping at the *first* pack that keeps it would merge
    nothing once one tiny pack sits below the rest, and let the packs pile up.)"""
    total, cut = 0, 0
    for i, (size, _) in enumerate(packs):
        if i and size < 2 * total:
            cut = i + 1
        total += size
    return [path for _, path in packs[:cut]]


def _read_entries(pack: Path) -> list[Entry] | None:
    """The entries of a pack of whole objects (no deltas, no 64-bit offsets); None if not."""
    try:
        index = pack.with_suffix(".idx").read_bytes()
        data = pack.read_bytes()
        rows = objects.index_rows(index, objects.index_fanout(index, str(pack))[255])
    except (OSError, objects.Unreadable):
        return None
    offsets = [off for _, _, off in rows]
    if data[:4] != b"PACK" or any(off & 0x80000000 for off in offsets):
        return None
    ends = dict(zip(sorted(offsets), [*sorted(offsets)[1:], len(data) - 20], strict=True))
    entries = []
    for oid, crc, off in rows:
        if not 1 <= (data[off] >> 4) & 7 <= 4:
            return None  # a delta: leave this pack to git
        entries.append(Entry(oid, crc, data[off:ends[off]]))
    return entries


def _quietly() -> AbstractContextManager[None]:
    """Removing a file git may have removed first (its own repack) is not an error."""
    return suppress(FileNotFoundError)


class RecentObjects(pygit2.OdbBackend):
    """The objects of the last commits this process published, served to libgit2 from memory.

    libgit2 finds a pack written after it last listed the pack folder only by listing the
    folder again (a refresh: a directory read, the new index opened and mapped) the first
    time it misses an object, and every transaction reads the tip the one before it wrote.
    Added at the lowest priority, so libgit2's pack and loose backends answer first: this one
    is asked only for what they do not know yet, and holds only objects already in a pack on
    disk under a ref (added after the compare-and-swap succeeded), so it never answers for an
    object the repository lacks (docs/decisions/1324-recent-objects-from-memory.md).

    libgit2 calls these methods back holding the GIL only in pygit2's C functions; a call
    that releases it (`Repository.walk`'s iteration, the cffi-based merges, `Index`) must run
    on a Repository of its own (store/sharing/trust.py's walk does; a test keeps it so).
    """

    KEEP_COMMITS = 16
    MAX_OBJECT_BYTES = 64 << 10

    def __init__(self) -> None:
        super().__init__()
        self._objects: dict[bytes, tuple[int, bytes]] = {}
        self._commits: deque[list[bytes]] = deque()

    def remember(self, objects: dict[bytes, tuple[int, bytes]]) -> None:
        kept = [oid for oid, (_, data) in objects.items() if len(data) <= self.MAX_OBJECT_BYTES]
        for oid in kept:
            self._objects[oid] = objects[oid]
        self._commits.append(kept)
        while len(self._commits) > self.KEEP_COMMITS:
            newer = {oid for ids in list(self._commits)[1:] for oid in ids}
            for oid in self._commits.popleft():
                if oid not in newer:
                    self._objects.pop(oid, None)

    def moved(self) -> RecentObjects:
        """The same objects in a backend for another odb (libgit2 allows one odb per backend);
        this one must no longer be used."""
        fresh = RecentObjects()
        fresh._objects, fresh._commits = self._objects, self._commits
        return fresh

    def __len__(self) -> int:
        return len(self._objects)

    # libgit2's callbacks (pygit2.OdbBackend): KeyError is "not found".
    def read_cb(self, oid: pygit2.Oid) -> tuple[int, bytes]:
        return self._objects[oid.raw]

    def read_prefix_cb(self, hexid: str) -> tuple[int, bytes, pygit2.Oid]:
        if len(hexid) != 40:
            raise KeyError(hexid)  # short ids: the disk backends resolve those
        oid = pygit2.Oid(hex=hexid)
        kind, data = self._objects[oid.raw]
        return kind, data, oid

    def read_header_cb(self, oid: pygit2.Oid) -> tuple[int, int]:
        kind, data = self._objects[oid.raw]
        return kind, len(data)

    def exists_cb(self, oid: pygit2.Oid) -> bool:
        return False  # never vouch for an object: a write must reach the disk backends

    def exists_prefix_cb(self, hexid: str) -> pygit2.Oid:
        raise KeyError(hexid)

    def refresh_cb(self) -> None:
        return None

    def write_cb(self, oid: pygit2.Oid, data: bytes, kind: int) -> None:
        raise OSError("dflow's recent-object cache takes no writes")
