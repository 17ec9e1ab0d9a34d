"""How gently to treat a host: request spacing, requests in flight, and jitter."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Politeness:
    interval_s: float = 0.0
    concurrency: int = 16
    jitter_s: float = 0.0
