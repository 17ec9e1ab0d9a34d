"""Per-host politeness: a cap on concurrent requests and a minimum interval between request starts."""

from __future__ import annotations

import asyncio
import time


class HostGate:
    """Admits one request to one host. Use as `async with gate:` around each request."""

    def __init__(self, concurrency: int, min_interval: float) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._min_interval = min_interval
        self._next_start = 0.0
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> None:
        await self._slots.acquire()
        if self._min_interval <= 0:
            return
        try:
            async with self._lock:
                now = time.monotonic()
                start = max(now, self._next_start)
                self._next_start = start + self._min_interval
            if start > now:
                await asyncio.sleep(start - now)
        except BaseException:
            self._slots.release()
            raise

    async def __aexit__(self, *exc_info) -> None:
        self._slots.release()

    def space_at_least(self, interval: float) -> None:
        """Widen the minimum interval (a robots.txt Crawl-delay); never narrows it."""
        self._min_interval = max(self._min_interval, interval)


class HostGates:
    """One `HostGate` per host, made on first use."""

    def __init__(self, concurrency: int, min_interval: float) -> None:
        self._concurrency = concurrency
        self._min_interval = min_interval
        self._gates: dict[str, HostGate] = {}

    def __getitem__(self, host: str) -> HostGate:
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = HostGate(self._concurrency, self._min_interval)
        return gate
