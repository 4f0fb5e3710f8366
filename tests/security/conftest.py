"""What the security suite shares: scanning everything dflow keeps for planted secrets."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.sync.conftest import clone, remote  # noqa: F401  (shared fixtures: two clones)

STATE_REF = "refs/deksdenflow/state"


def reachable_blobs(repo: Path, ref: str = STATE_REF) -> list[bytes]:
    """Every blob reachable from `ref`, across its whole history (not only the tip)."""
    listing = subprocess.run(["git", "rev-list", "--objects", ref], cwd=repo,
                             capture_output=True, text=True, check=True).stdout
    ids = [line.split()[0] for line in listing.splitlines() if line.strip()]
    batch = subprocess.run(["git", "cat-file", "--batch"], cwd=repo, check=True,
                           input="\n".join(ids).encode() + b"\n", capture_output=True).stdout
    blobs, pos = [], 0
    while pos < len(batch):
        header_end = batch.index(b"\n", pos)
        _, kind, size = batch[pos:header_end].split()
        start = header_end + 1
        if kind == b"blob":
            blobs.append(batch[start:start + int(size)])
        pos = start + int(size) + 1
    return blobs


def leaks(haystacks: list[bytes] | list[str], needles: list[str]) -> list[str]:
    """The needles found anywhere in the haystacks."""
    found = []
    for needle in needles:
        raw = needle.encode()
        for hay in haystacks:
            data = hay if isinstance(hay, bytes) else hay.encode()
            if raw in data:
                found.append(needle)
                break
    return found


def fsck(repo: Path) -> None:
    out = subprocess.run(["git", "fsck", "--no-progress"], cwd=repo, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
