"""The per-host circuit breaker: after a host blocks us, no request goes to it until its cool-down ends.

A site that bans (Google Scholar) answers every further request from a banned client with another block, and
each one lengthens the ban; so the first block closes the host for the whole run, and, through `host_block`,
for later runs until the cool-down has passed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ingest.store.tables import as_utc, utcnow


class Breaker:
    def __init__(self, cooldown_s: float, blocked: dict[str, datetime] | None = None) -> None:
        self.cooldown = timedelta(seconds=cooldown_s)
        self.blocked_until: dict[str, datetime] = dict(blocked or {})

    def why_closed(self, host: str) -> str | None:
        """Why no request may go to `host` now, or None."""
        until = self.blocked_until.get(host)
        if until is None or as_utc(until) <= utcnow():
            return None
        return f"{host} blocked us; its circuit breaker is open until {as_utc(until):%Y-%m-%d %H:%M:%S} UTC"

    def trip(self, host: str) -> datetime:
        """`host` just blocked us: closed for the cool-down from now; returns until when."""
        until = utcnow() + self.cooldown
        self.blocked_until[host] = until
        return until
