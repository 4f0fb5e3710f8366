"""A pure-Python reader of git objects by id, for the read paths that must start fast.

`import pygit2` alone costs ~60 ms of CPU in a fresh process (its enums, `ssl`, the CA
bundle); `dflow status` after the ref moved reads a handful of trees and blobs. This module
reads them with the standard library: loose objects (zlib) and packs through their version-2
index (fan-out table, binary search, 64-bit offsets), with OFS_DELTA and REF_DELTA entries
applied. Every object is checked against its SHA-1 before it is returned, so a damaged or
foreign object store can make it give up but never answer wrongly.

Whatever it does not know makes it raise `Unreadable`: a SHA-256 repository, alternates, an
index version other than 2, an object it cannot find (a multi-pack-index-only object, a
promisor remote), a damaged pack. The caller then reads through libgit2 as before
(store/lite.py; docs/decisions/1303-a-pure-python-object-reader.md).
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib

TYPE_NAMES = {1: "commit", 2: "tree", 3: "blob", 4: "tag"}
_OFS_DELTA, _REF_DELTA = 6, 7
_IDX_MAGIC = b"\377tOc\0\0\0\2"
_FANOUT_END = 8 + 256 * 4
_MAX_CHAIN = 10_000  # deltas on one object's chain; git's own limit is far lower
_CACHE_BYTES = 32 << 20  # delta bases kept while one reader lives
_HEX = frozenset("0123456789abcdef")
# Larger objects are read through libgit2: the state ref's files are small (a transcript is
# capped far below this), and a declared size is what bounds the memory an object may take.
MAX_OBJECT = 256 << 20


class Unreadable(Exception):
    """The object store holds something this reader does not handle: the fast path leaves
    the answer to the full command, which reads through libgit2 (decision 1603)."""


class ObjectReader:
    """Objects of one repository's object store (`<git dir>/objects`), read by hex id."""

    def __init__(self, git_dir: str) -> None:
        self.objects_dir = os.path.join(git_dir, "objects")
        _check_repository(git_dir, self.objects_dir)
        self._packs: list[_Pack] | None = None
        self._bases: dict[tuple[str, int], tuple[int, bytes]] = {}
        self._cached = 0

    def read(self, oid: str) -> tuple[str, bytes]:
        """(type name, content) of the object `oid`, its SHA-1 verified; raises Unreadable."""
        if len(oid) != 40 or not _HEX.issuperset(oid):
            raise Unreadable(f"not a SHA-1 object id: {oid!r}")
        try:
            # Packs first: dflow writes packs (decision 1320), and a miss there costs no
            # syscall; then loose; then packs written since the scan (as git re-prepares).
            raw = bytes.fromhex(oid)
            found = (self._packed(raw, rescan=False) or self._loose(oid)
                     or self._packed(raw, rescan=True))
        except (OSError, zlib.error, struct.error, ValueError, IndexError, KeyError,
                RecursionError) as e:
            raise Unreadable(f"object {oid}: {e}") from e
        if found is None:
            raise Unreadable(f"object {oid} is neither loose nor in a pack index")
        kind, data = found
        if hashlib.sha1(b"%s %d\0" % (kind.encode(), len(data)) + data).hexdigest() != oid:
            raise Unreadable(f"object {oid}: its bytes do not hash to its id")
        return kind, data

    def close(self) -> None:
        for pack in self._packs or ():
            pack.close()
        self._packs = None

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- loose objects --------------------------------------------------------------------

    def _loose(self, oid: str) -> tuple[str, bytes] | None:
        try:
            with open(os.path.join(self.objects_dir, oid[:2], oid[2:]), "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return None
        inflater = zlib.decompressobj()
        head = inflater.decompress(raw, 64)  # "<type> <size>\0" fits: the size bounds the rest
        kind, _, size = head.partition(b"\0")[0].decode("ascii").partition(" ")
        if b"\0" not in head or kind not in TYPE_NAMES.values() or not size.isdigit():
            raise Unreadable(f"loose object {oid} has a bad header")
        body = _inflate_into(inflater, bytearray(head.partition(b"\0")[2]),
                             inflater.unconsumed_tail, _bounded(int(size)))
        if not inflater.eof or len(body) != int(size):
            raise Unreadable(f"loose object {oid} has a bad header")
        return kind, bytes(body)

    # --- packs ----------------------------------------------------------------------------

    def _packed(self, raw: bytes, rescan: bool) -> tuple[str, bytes] | None:
        if rescan or self._packs is None:
            self._scan()
        for pack in self._packs or ():
            offset = pack.find(raw)
            if offset is not None:
                kind, data = self._resolve(pack, offset, 0)
                return TYPE_NAMES[kind], data
        return None

    def _scan(self) -> None:
        folder = os.path.join(self.objects_dir, "pack")
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            names = []
        known = {pack.idx_path: pack for pack in self._packs or ()}
        packs = []
        for name in names:
            if name.endswith(".idx"):
                path = os.path.join(folder, name)
                kept = known.pop(path, None)
                packs.append(kept if kept is not None else _Pack(path))
        for stale in known.values():
            stale.close()
        # Newest first, as git searches: the objects a read path wants were written lately.
        packs.sort(key=lambda pack: pack.mtime, reverse=True)
        self._packs = packs

    def _resolve(self, pack: _Pack, offset: int, depth: int) -> tuple[int, bytes]:
        """The type and content of the pack entry at `offset`, its delta chain applied."""
        chain: list[tuple[int, bytes]] = []  # (offset, delta) from `offset` down to the base
        at = offset
        while True:
            cached = self._bases.get((pack.idx_path, at))
            if cached is not None:
                kind, data = cached
                break
            kind, base, payload = pack.entry(at)
            if kind == _OFS_DELTA and isinstance(base, int):
                chain.append((at, payload))
                at = base
            elif kind == _REF_DELTA and isinstance(base, bytes):
                chain.append((at, payload))
                kind, data = self._ref_base(pack, base, depth)
                break
            elif kind in TYPE_NAMES:
                data = payload
                self._keep(pack, at, kind, data)
                break
            else:
                raise Unreadable(f"pack entry of unknown type {kind} in {pack.idx_path}")
            if len(chain) > _MAX_CHAIN:
                raise Unreadable(f"a delta chain longer than {_MAX_CHAIN} in {pack.idx_path}")
        for at, delta in reversed(chain):
            data = apply_delta(data, delta)
            self._keep(pack, at, kind, data)
        return kind, data

    def _ref_base(self, pack: _Pack, raw: bytes, depth: int) -> tuple[int, bytes]:
        if depth > _MAX_CHAIN:
            raise Unreadable("a REF_DELTA chain that does not end")
        offset = pack.find(raw)
        if offset is not None:
            return self._resolve(pack, offset, depth + 1)
        kind, data = self.read(raw.hex())  # a thin pack's base elsewhere: verified on its own
        return {name: code for code, name in TYPE_NAMES.items()}[kind], data

    def _keep(self, pack: _Pack, offset: int, kind: int, data: bytes) -> None:
        if self._cached + len(data) <= _CACHE_BYTES:
            self._bases[(pack.idx_path, offset)] = (kind, data)
            self._cached += len(data)


def _check_repository(git_dir: str, objects_dir: str) -> None:
    """Give up on what changes how objects are stored or found."""
    try:
        with open(os.path.join(git_dir, "config"), "rb") as f:
            config = f.read().lower()
    except FileNotFoundError:
        config = b""
    except OSError as e:
        raise Unreadable(f"cannot read the git config: {e}") from e
    if b"objectformat" in config:  # SHA-256 (or a compatibility hash): not this reader's
        raise Unreadable("the repository names an object format")
    if os.path.exists(os.path.join(objects_dir, "info", "alternates")):
        raise Unreadable("the repository borrows objects from alternates")


class _Pack:
    """One pack and its version-2 index, read lazily."""

    def __init__(self, idx_path: str) -> None:
        self.idx_path = idx_path
        self.pack_path = idx_path[:-4] + ".pack"
        self.mtime = os.stat(idx_path).st_mtime_ns
        self._idx: bytes | None = None
        self._fanout: tuple[int, ...] = ()
        self._fd: int | None = None

    def find(self, raw: bytes) -> int | None:
        """The offset of object `raw` (20 bytes) in the pack, or None."""
        idx = self._index()
        first = raw[0]
        lo = self._fanout[first - 1] if first else 0
        hi = self._fanout[first]
        while lo < hi:
            mid = (lo + hi) // 2
            at = _FANOUT_END + 20 * mid
            name = idx[at:at + 20]
            if name < raw:
                lo = mid + 1
            elif name > raw:
                hi = mid
            else:
                return self._offset(mid)
        return None

    def _index(self) -> bytes:
        if self._idx is not None:
            return self._idx
        with open(self.idx_path, "rb") as f:
            idx = f.read()
        self._idx, self._fanout = idx, index_fanout(idx, self.idx_path)
        return idx

    def _offset(self, i: int) -> int:
        idx, count = self._index(), self._fanout[255]
        (offset,) = struct.unpack_from(">I", idx, _FANOUT_END + 24 * count + 4 * i)
        if offset & 0x80000000:  # an index into the table of 64-bit offsets
            at = _FANOUT_END + 28 * count + 8 * (offset & 0x7FFFFFFF)
            if at + 8 > len(idx) - 40:
                raise Unreadable(f"{self.idx_path}: a 64-bit offset out of the table")
            (offset,) = struct.unpack_from(">Q", idx, at)
        return int(offset)

    def entry(self, offset: int) -> tuple[int, int | bytes, bytes]:
        """(type, base, payload) at `offset`: base is the OFS_DELTA base's offset, the
        REF_DELTA base's raw id, else 0; payload is the inflated content or delta."""
        fd = self._open()
        head = os.pread(fd, 32, offset)
        if len(head) < 2:
            raise Unreadable(f"{self.pack_path}: an entry past the end")
        byte = head[0]
        kind, size, shift, at = (byte >> 4) & 7, byte & 15, 4, 1
        while byte & 0x80:
            byte = head[at]
            size |= (byte & 0x7F) << shift
            shift, at = shift + 7, at + 1
        base: int | bytes = 0
        if kind == _OFS_DELTA:
            byte = head[at]
            distance, at = byte & 0x7F, at + 1
            while byte & 0x80:
                byte = head[at]
                distance, at = ((distance + 1) << 7) | (byte & 0x7F), at + 1
            if not 0 < distance <= offset - 12:
                raise Unreadable(f"{self.pack_path}: a delta base outside the pack")
            base = offset - distance
        elif kind == _REF_DELTA:
            base, at = head[at:at + 20], at + 20
        return kind, base, self._inflate(fd, offset + at, size)

    def _inflate(self, fd: int, start: int, size: int) -> bytes:
        """The entry's content, never inflated past the size it declares (a small crafted
        stream can inflate to gigabytes)."""
        inflater = zlib.decompressobj()
        out = bytearray()
        chunk = _bounded(size) + 64
        while not inflater.eof:
            raw = os.pread(fd, chunk, start)
            if not raw:
                raise Unreadable(f"{self.pack_path}: an entry cut short")
            out = _inflate_into(inflater, out, raw, size)
            start, chunk = start + len(raw), max(chunk, 1 << 16)
        if len(out) != size:
            raise Unreadable(f"{self.pack_path}: an entry of the wrong size")
        return bytes(out)

    def _open(self) -> int:
        if self._fd is None:
            fd = os.open(self.pack_path, os.O_RDONLY)
            if os.pread(fd, 8, 0) not in (b"PACK\0\0\0\2", b"PACK\0\0\0\3"):
                os.close(fd)
                raise Unreadable(f"{self.pack_path} is not a version-2 pack")
            self._fd = fd
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:  # a reader nobody closed lets its packs go with it
        self.close()


def index_fanout(idx: bytes, name: str) -> tuple[int, ...]:
    """The fan-out table of a version-2 pack index, once its shape is checked (the one
    reader of pack indexes: this module's lookups and the store's roll-up,
    store/plumbing/pack.py)."""
    if not idx.startswith(_IDX_MAGIC):
        raise Unreadable(f"{name} is not a version-2 pack index")
    fanout = struct.unpack_from(">256I", idx, 8)
    count = fanout[255]
    small = _FANOUT_END + 28 * count + 40  # names, CRCs, offsets, two checksums
    if len(idx) < small or (len(idx) - small) % 8 or any(
            a > b for a, b in zip(fanout, fanout[1:], strict=False)):
        raise Unreadable(f"{name} is damaged")
    return fanout


def index_rows(idx: bytes, count: int) -> list[tuple[bytes, int, int]]:
    """(raw id, CRC-32, 32-bit offset field) of every object of a checked index (an offset
    with its high bit set points into the 64-bit table)."""
    names = [idx[_FANOUT_END + 20 * i:_FANOUT_END + 20 * i + 20] for i in range(count)]
    crcs = struct.unpack_from(f">{count}I", idx, _FANOUT_END + 20 * count)
    offsets = struct.unpack_from(f">{count}I", idx, _FANOUT_END + 24 * count)
    return list(zip(names, crcs, offsets, strict=True))


def _bounded(size: int) -> int:
    """`size`, when an object of that size is one the read paths may read here."""
    if size > MAX_OBJECT:
        raise Unreadable(f"an object of {size} bytes (more than this reader reads)")
    return size


def _inflate_into(inflater: zlib._Decompress, out: bytearray, data: bytes,
                  size: int) -> bytearray:
    """Inflate `data` onto `out`, giving up as soon as it would hold more than `size` bytes."""
    if len(out) > size:  # (and max_length 0 would mean "no limit" to zlib)
        raise Unreadable(f"an object larger than the {size} bytes it declares")
    while data and not inflater.eof:
        out += inflater.decompress(data, size + 1 - len(out))
        if len(out) > size:
            raise Unreadable(f"an object larger than the {size} bytes it declares")
        data = inflater.unconsumed_tail
    return out


def apply_delta(base: bytes, delta: bytes) -> bytes:
    """git's delta format: the base's size, the result's size, then copy/insert instructions."""
    try:
        return _apply(base, delta)
    except IndexError as e:
        raise Unreadable("a delta cut short") from e


def _apply(base: bytes, delta: bytes) -> bytes:
    source, at = _varint(delta, 0)
    target, at = _varint(delta, at)
    if source != len(base):
        raise Unreadable("a delta made for a base of another size")
    _bounded(target)
    view = memoryview(base)
    out = bytearray()
    end = len(delta)
    while at < end:
        op = delta[at]
        at += 1
        if op & 0x80:  # copy from the base: offset and size in the bytes the bits name
            offset, at = _copy_field(delta, at, op, 0, 4)
            size, at = _copy_field(delta, at, op, 4, 3)
            size = size or 0x10000
            if offset + size > source or len(out) + size > target:
                raise Unreadable("a delta copies past its base or its result's size")
            out += view[offset:offset + size]
        elif op:  # insert the next `op` bytes
            if at + op > end or len(out) + op > target:
                raise Unreadable("a delta cut short, or inserting past its result's size")
            out += delta[at:at + op]
            at += op
        else:
            raise Unreadable("a delta with the reserved instruction 0")
    if len(out) != target:
        raise Unreadable("a delta that builds an object of the wrong size")
    return bytes(out)


def _copy_field(delta: bytes, at: int, op: int, first_bit: int, count: int) -> tuple[int, int]:
    """A copy instruction's offset (bits 0-3 of `op`) or size (bits 4-6): one little-endian
    byte follows for each bit set."""
    value = 0
    for n in range(count):
        if op & (1 << (first_bit + n)):
            value, at = value | delta[at] << (8 * n), at + 1
    return value, at


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


# --- what the read paths parse --------------------------------------------------------------


def commit_tree(data: bytes) -> str:
    """The tree id of a commit's content."""
    if not data.startswith(b"tree ") or data[45:46] != b"\n":
        raise Unreadable("a commit without a tree line")
    tree = data[5:45].decode("ascii")
    if not _HEX.issuperset(tree):
        raise Unreadable("a commit with a bad tree id")
    return tree


TREE_MODE = b"40000"
TreeIndex = dict[bytes, tuple[bytes, int]]  # name -> (mode, offset of its 20-byte id)


def tree_index(data: bytes) -> TreeIndex:
    """{name: (mode, offset of its raw id)} of a tree's content, in the tree's order: the one
    tree parser, for the read paths (`tree_entries`) and the writer's edits
    (store/plumbing/tree.py), which splices ids in place at those offsets."""
    index: TreeIndex = {}
    at, end = 0, len(data)
    while at < end:
        space = data.find(b" ", at)
        nul = data.find(b"\0", space)
        if space < 0 or nul < 0 or nul + 21 > end:
            raise Unreadable("a tree cut short")
        index[data[space + 1:nul]] = (data[at:space], nul + 1)
        at = nul + 21
    return index


def tree_entries(data: bytes) -> dict[str, tuple[bytes, str]]:
    """{name: (mode, hex id)} of a tree's content, in the tree's order."""
    try:
        return {name.decode("utf-8"): (mode, data[at:at + 20].hex())
                for name, (mode, at) in tree_index(data).items()}
    except UnicodeDecodeError as e:
        raise Unreadable("a tree entry whose name is not UTF-8") from e
