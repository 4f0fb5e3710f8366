"""Who may use `dflow serve`: one bearer token, where it comes from, and how it is checked.

The token is `DFLOW_SERVE_TOKEN` when set; otherwise one is generated once and kept in the git
dir (`dflow-serve-token`, mode 0600), so a bookmarked page keeps working across restarts and
every worktree of the repository shares it. It never enters the state ref (decision 1583).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from pathlib import Path

from .. import environment
from ..errors import UsageError

TOKEN_FILE = "dflow-serve-token"
TOKEN_BYTES = 32
LOOPBACK_NAMES = {"localhost"}


def token_for(git_dir: Path) -> tuple[str, str]:
    """The token, and where it came from: "env", "file" or "new"."""
    given = environment.text("DFLOW_SERVE_TOKEN").strip()
    if given:
        return given, "env"
    path = git_dir / TOKEN_FILE
    try:
        # O_EXCL: two servers starting at once agree on the first one's token.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)  # a copy restored with looser bits is closed again
        stored = path.read_text().strip()
        if stored:
            return stored, "file"
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    return token, "new"


def same(given: str | None, token: str) -> bool:
    """Constant-time comparison: the time taken says nothing about how much of it matched."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8"))


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str) -> None:
    """Beyond loopback only with a token the user chose (a generated one would be printed to
    a terminal that anyone on the network might not share, and would change per clone)."""
    if is_loopback(host):
        return
    if not environment.text("DFLOW_SERVE_TOKEN").strip():
        raise UsageError(f"--host {host} listens beyond this machine; set DFLOW_SERVE_TOKEN to "
                         "a long random secret first (and put TLS in front of it), or leave "
                         "--host at 127.0.0.1")
