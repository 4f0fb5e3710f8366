"""A local read cache in the git dir, keyed by the state ref's tip. Standard library only.

`dflow status --json` is what scripts and editors poll. Its answer is a pure function of the
tip commit, so it is kept in `<git dir>/deksdenflow/cache/` under the tip it was computed
from. Every read resolves the tip first (a plain `git fetch`, another process or a hand edit
moves it) and uses an entry only when the tips match, so a stale answer cannot be served.

This module imports nothing but the standard library: on a hit, `dflow` prints the cached
bytes without loading pygit2, pydantic or Typer (docs/decisions/0012-status-cache.md).
"""

from __future__ import annotations

import os

from .. import __version__
from .encoding.layout import STATE_REF

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

# Plain os.path and no `re`/`pathlib`/`typing`: this module is on the path of a cache hit,
# where every import counts against the bare start-up time of Python.
CACHE_FORMAT = 2  # 2: status lines carry the stage people see (decision 1570)
_HEX_DIGITS = frozenset("0123456789abcdef")
# Any of these changes where git looks for the repository; leave those cases to libgit2.
_DISCOVERY_ENV = ("GIT_DIR", "GIT_COMMON_DIR", "GIT_CEILING_DIRECTORIES",
                  "GIT_DISCOVERY_ACROSS_FILESYSTEM")


def common_dir_of(start: str) -> str | None:
    """The shared git dir of the repository containing `start`; None when unsure."""
    if any(os.environ.get(name) for name in _DISCOVERY_ENV):
        return None
    folder = os.path.abspath(start)
    while True:
        dot_git = os.path.join(folder, ".git")
        if os.path.isdir(dot_git):
            return _common(dot_git)
        if os.path.isfile(dot_git):
            text = _read(dot_git).decode(errors="replace").strip()
            if not text.startswith("gitdir: "):
                return None
            return _common(os.path.join(folder, text.removeprefix("gitdir: ")))
        if os.path.isfile(os.path.join(folder, "HEAD")) and os.path.isdir(
                os.path.join(folder, "objects")):
            return _common(folder)  # inside a bare repository
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _common(git_dir: str) -> str | None:
    marker = os.path.join(git_dir, "commondir")
    if os.path.isfile(marker):
        git_dir = os.path.join(git_dir, _read(marker).decode().strip())
    git_dir = os.path.realpath(git_dir)
    if not os.path.isfile(os.path.join(git_dir, "HEAD")) or os.path.exists(
            os.path.join(git_dir, "reftable")):
        return None  # not a git dir, or a ref format we do not read by hand
    return git_dir


def read_tip(common: str) -> str | None:
    """The state ref's commit id, read the way git stores it: loose file, else packed-refs."""
    return read_ref(common, STATE_REF)


def read_ref(common: str, name: str) -> str | None:
    """The object id a ref (`refs/heads/main`) names, from its loose file, else packed-refs;
    None when there is none, or it is symbolic."""
    try:
        raw = _read(os.path.join(common, name)).strip()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return _packed_ref(common, name)
    return _oid(raw)


def _packed_ref(common: str, name: str) -> str | None:
    try:
        lines = _read(os.path.join(common, "packed-refs")).splitlines()
    except FileNotFoundError:
        return None
    suffix = b" " + name.encode()
    for line in lines:
        if line.endswith(suffix):
            return _oid(line[: -len(suffix)])
    return None


def trusted_tip(common: str) -> str | None:
    """The tip the store last wrote or verified (store/sharing/trust.py keeps it); None if
    unknown."""
    try:
        return _read(os.path.join(common, "deksdenflow", "trusted-tip")).strip().decode() or None
    except (OSError, UnicodeDecodeError):
        return None


def may_have_remote(common: str) -> bool:
    """Whether the repository's git config could name a remote (the implicit sync has work
    only then); an include is followed by git, not here, so it counts as a yes."""
    try:
        text = _read(os.path.join(common, "config")).decode(errors="replace")
    except OSError:
        return True
    heads = (line.strip().lower() for line in text.splitlines())
    return any(h.startswith(("[remote", "[include")) for h in heads)


def refs_key(common: str) -> str:
    """Every branch, remote-tracking and dflow ref except the state ref itself, plus the
    identity of packed-refs: what the implicit sync around `status` (a merge of a fetched
    state, runs whose branch was merged) depends on besides the tip."""
    parts = []
    for sub in ("refs/heads", "refs/remotes", "refs/deksdenflow"):
        for folder, _, files in os.walk(os.path.join(common, sub)):
            for name in files:
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, common)
                if name.endswith(".lock") or rel == STATE_REF:
                    continue
                try:
                    parts.append(f"{rel}={_read(path).strip().decode(errors='replace')}")
                except OSError:
                    parts.append(f"{rel}=?")
    try:
        stat = os.stat(os.path.join(common, "packed-refs"))
        parts.append(f"packed-refs={stat.st_size}:{stat.st_mtime_ns}")
    except OSError:
        pass
    return ";".join(sorted(parts))


def _oid(raw: bytes) -> str | None:
    text = raw.decode(errors="replace")
    return text if len(text) in (40, 64) and _HEX_DIGITS.issuperset(text) else None


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _path(common: str, name: str) -> str:
    return os.path.join(common, "deksdenflow", "cache", name)


def _header(key: str) -> bytes:
    return f"dflow-cache {CACHE_FORMAT} {__version__} {key}\n".encode()


def load(common: str, name: str, key: str) -> bytes | None:
    """The entry `name` when it was stored under `key` (a tip) by this dflow version."""
    try:
        with open(_path(common, name), "rb") as f:  # the header is one line: no copy after it
            return f.read() if f.readline() == _header(key) else None
    except OSError:
        return None


def save(common: str, name: str, key: str, payload: bytes | Iterable[bytes]) -> None:
    """Replace the entry atomically; a cache that cannot be written is only slower.
    `payload` may come in parts, written one after the other (never joined in memory: the
    per-run lines of 10,000 runs are ~14 MB)."""
    target = _path(common, name)
    temp = f"{target}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(temp, "wb") as f:
            f.write(_header(key))
            if isinstance(payload, bytes):
                f.write(payload)
            else:
                f.writelines(payload)
        os.replace(temp, target)
    except OSError:
        try:  # noqa: SIM105  (contextlib is one more import on the hit path)
            os.unlink(temp)
        except OSError:
            pass


def kept(common: str, name: str) -> bool:
    """Whether the entry `name` exists at all (under any key)."""
    return os.path.exists(_path(common, name))


def holds(common: str, name: str, key: str) -> bool:
    """Whether the entry `name` is stored under `key` by this dflow version (its header only
    is read)."""
    header = _header(key)
    try:
        with open(_path(common, name), "rb") as f:
            return f.read(len(header)) == header
    except OSError:
        return False


# --- journals: records appended by writers, each framed and checked ------------------------


def _tag(key: str) -> bytes:
    import hashlib

    return hashlib.sha1(_header(key)).hexdigest().encode()


def append(common: str, name: str, key: str, payload: bytes, cap: int) -> None:
    """Append one record under `key` to the journal `name` (one write; started again once it
    is over `cap` bytes). A journal that cannot be written is only slower."""
    import zlib

    record = b"%s %d %d\n" % (_tag(key), len(payload), zlib.crc32(payload)) + payload
    target = _path(common, name)
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size > cap:
                os.ftruncate(fd, 0)
            os.write(fd, record)
        finally:
            os.close(fd)
    except OSError:
        pass


def records(common: str, name: str, key: str) -> list[bytes]:
    """The payloads of the journal's records under `key`, oldest first; the journal is read
    up to the first record that is cut short or does not match its checksum."""
    import zlib

    try:
        data = _read(_path(common, name))
    except OSError:
        return []
    tag, found, at = _tag(key), [], 0
    while at < len(data):
        end = data.find(b"\n", at)
        head = data[at:end].split(b" ") if end >= 0 else []
        if len(head) != 3 or not head[1].isdigit() or not head[2].isdigit():
            break
        size = int(head[1])
        payload = data[end + 1:end + 1 + size]
        if len(payload) != size or zlib.crc32(payload) != int(head[2]):
            break
        if head[0] == tag:
            found.append(payload)
        at = end + 1 + size
    return found


STEP_CHANGES = "step-changes"


def step_changes(common: str) -> dict[str, list[int]]:
    """commit -> [files, added, deleted] of the step commits `dflow show` measured (against
    their parent: a pure function of the commit), for show's fast path (decision 1313)."""
    import json

    raw = load(common, STEP_CHANGES, "1")
    try:
        found = json.loads(raw) if raw is not None else {}
    except ValueError:
        return {}  # a damaged cache is rebuilt, never trusted
    return found if isinstance(found, dict) else {}


def save_step_changes(common: str, known: dict[str, list[int]]) -> None:
    import json

    save(common, STEP_CHANGES, "1", json.dumps(known).encode())
