"""Splitting a profile list into disjoint shards by a stable hash of each URL.

K workers each refresh shard i/K of the same list: together they cover it once, with no overlap and
no coordination, because every process computes the same hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass


def stable_hash(text: str) -> int:
    """64 bits of SHA-256, unsigned: the same in every process, machine and Python version (unlike `hash()`)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard `index` of `count`, counted from 1: `Shard(2, 4)` is "2/4"."""

    index: int = 1
    count: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise ValueError(f"shard {self.index}/{self.count}: want 1 <= shard <= shards")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """ "2/4" -> Shard(2, 4)."""
        index, _, count = text.partition("/")
        try:
            return cls(int(index), int(count))
        except ValueError:
            raise ValueError(f"{text!r}: want SHARD/SHARDS with 1 <= SHARD <= SHARDS, e.g. 2/4") from None

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, url: str) -> bool:
        return stable_hash(url) % self.count == self.index - 1

    def select(self, urls: Iterable[str]) -> list[str]:
        """The URLs of this shard, in their order."""
        return [url for url in urls if self.holds(url)]


WHOLE = Shard(1, 1)
