"""Per-host politeness: a cap on concurrent requests and a minimum interval, plus jitter, between request starts.

The interval is kept in this process, or, given a `reserve` function (e.g. `SharedPace.reserve`),
by whatever that function consults, such as a database every worker shares.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

from ingest.http.politeness import Politeness

Reserve = Callable[[str, float], Awaitable[float]]  # (host, interval) -> seconds until the reserved start


class HostGate:
    """Admits one request to one host. Use as `async with gate:` around each request."""

    def __init__(self, concurrency: int, min_interval: float,
                 reserve: Callable[[float], Awaitable[float]] | None = None, *, jitter: float = 0.0,
                 rng: random.Random | None = None) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._min_interval = min_interval
        self._jitter = jitter
        self._rng = rng or random.Random()
        self._reserve = reserve
        self._next_start = 0.0
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> None:
        await self._slots.acquire()
        try:
            delay = await self._delay()
            if delay > 0:
                await asyncio.sleep(delay)
        except BaseException:
            self._slots.release()
            raise

    async def _delay(self) -> float:
        if self._min_interval <= 0 and self._jitter <= 0:
            return 0.0
        # Drawn per request: the gap after this start is the interval plus its own jitter.
        interval = self._min_interval + self._rng.uniform(0, self._jitter)
        if self._reserve is not None:
            return await self._reserve(interval)
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + interval
        return start - now

    async def __aexit__(self, *exc_info) -> None:
        self._slots.release()

    def space_at_least(self, interval: float) -> None:
        """Widen the minimum interval (a robots.txt Crawl-delay); never narrows it. Jitter still adds to it."""
        self._min_interval = max(self._min_interval, interval)


class HostGates:
    """One `HostGate` per host, made on first use with that host's `politeness`; `reserve` (if any) spaces
    requests instead of this process. `rng` draws the jitter (seed one for repeatable tests)."""

    def __init__(self, politeness: Callable[[str], Politeness], reserve: Reserve | None = None,
                 rng: random.Random | None = None) -> None:
        self._politeness = politeness
        self._reserve = reserve
        self._rng = rng or random.Random()
        self._gates: dict[str, HostGate] = {}

    def __getitem__(self, host: str) -> HostGate:
        gate = self._gates.get(host)
        if gate is None:
            reserve, polite = self._reserve, self._politeness(host)
            gate = self._gates[host] = HostGate(polite.concurrency, polite.interval_s,
                                                (lambda interval: reserve(host, interval)) if reserve else None,
                                                jitter=polite.jitter_s, rng=self._rng)
        return gate
