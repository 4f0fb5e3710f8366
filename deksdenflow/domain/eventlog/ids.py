"""Event ids: ULIDs (48-bit millisecond time + 80 random bits, Crockford base32).

They sort by creation time as plain strings and are unique across machines without
coordination, which is what lets two clones merge their event files by union.
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def encode(value: int, length: int) -> str:
    """`value` as `length` Crockford base32 characters (most significant first)."""
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(now_ms: int | None = None) -> str:
    """A new 26-character ULID."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")
    return encode(ms, 10) + encode(rand, 16)
