"""Splitting a profile list into disjoint shards by a stable hash of each URL."""

from __future__ import annotations

import hashlib


def stable_hash(text: str) -> int:
    """64 bits of SHA-256, unsigned: the same in every process, machine and Python version (unlike `hash()`)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
