"""Stable seeds from names: the one place that hashes printable parts (SHA-256) into an integer seed.

Two encodings exist because outputs already depend on them (changing either would change every derived seed,
hence every image): both are kept here, on one hashing core, and must never change.

* :func:`stable_int` — JSON list of the parts as strings, first 8 digest bytes big-endian, ``bits`` low bits.
  Used by dataset generation (sweep draws, per-item noise seeds).
* :func:`derive_seed` — parts as strings joined by ``\\x1f``, first 8 digest bytes little-endian, 63 bits.
  Used by the degradations (per-output noise, random draws, contact sheets).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal


def hash_to_int(payload: bytes, bits: int = 63, byteorder: Literal["big", "little"] = "big") -> int:
    """The low ``bits`` bits of the first 8 bytes of ``payload``'s SHA-256, read with ``byteorder``."""
    h = hashlib.sha256(payload).digest()
    return int.from_bytes(h[:8], byteorder) & ((1 << bits) - 1)


def stable_int(*parts: Any, bits: int = 63) -> int:
    """A platform-independent integer hash of ``parts`` (SHA-256), for seeding."""
    return hash_to_int(json.dumps([str(p) for p in parts]).encode(), bits, "big")


def derive_seed(*parts: object) -> int:
    """A stable 63-bit seed from any printable parts (order-sensitive, platform-independent)."""
    return hash_to_int("\x1f".join(str(p) for p in parts).encode("utf-8"), 63, "little")
