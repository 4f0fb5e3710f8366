"""Is a path or URL a repository the registry already has? (decision 1522)

Two entries for one repository make `dflow worker --all-projects` serve it twice and
`status --all` list its runs twice. A path is the same repository as an entry when both have
one git common dir (symlinks and linked worktrees resolved) or the same remote URL; a URL is
when an entry was cloned from it or has it as its remote, or it names an entry's own folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..git import local
from .registry import ProjectEntry, Registry

_SCP = re.compile(r"^(?:[\w.-]+@)?([\w.-]+):(?!//)(.+)$")


def url_key(url: str) -> str:
    """One spelling per remote: scheme, user, `.git` and trailing slashes dropped, the host
    lowercased; a file URL or a local path is its resolved folder."""
    url = url.strip()
    if not url:
        return ""
    if url.startswith("file://"):
        return _path_key(Path(unquote(urlsplit(url).path)))
    if "://" in url:
        parts = urlsplit(url)
        return _tail(f"{(parts.hostname or '').lower()}/{parts.path.lstrip('/')}")
    scp = _SCP.match(url)
    if scp is not None and not Path(url).exists():
        return _tail(f"{scp.group(1).lower()}/{scp.group(2).lstrip('/')}")
    return _path_key(Path(url))


def _tail(key: str) -> str:
    return key.rstrip("/").removesuffix(".git").rstrip("/")


def _path_key(path: Path) -> str:
    try:
        where = path.expanduser().resolve()
    except OSError:
        return str(path)
    found = common_dir(where)
    return str(found.parent if found is not None and found.name == ".git" else found or where)


def common_dir(path: Path) -> Path | None:
    """The git common dir of the repository at `path` (a linked worktree's is its main
    repository's), resolved; None when `path` is no repository."""
    found = local.common_dir(path)
    return found.resolve() if found is not None else None


def registered_as(current: Registry, *, root: Path | None = None, url: str = "",
                  remote: str = "") -> ProjectEntry | None:
    """The entry that already is this repository: the one at `root` (its git common dir),
    or the one whose remote is `url` / `remote`, or whose folder `url` names."""
    mine = common_dir(root) if root is not None else None
    keys = {k for k in (url_key(url), url_key(remote)) if k}
    for entry in current.projects.values():
        theirs = common_dir(Path(entry.path))
        if mine is not None and theirs == mine:
            return entry
        if keys & {k for k in (url_key(entry.remote), _entry_folder(entry, theirs)) if k}:
            return entry
    return None


def _entry_folder(entry: ProjectEntry, common: Path | None) -> str:
    if common is None:
        return ""
    return str(common.parent if common.name == ".git" else common)
