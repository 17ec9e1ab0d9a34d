"""When to retry a request and how long to wait: plain functions and a tenacity wait strategy."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import httpx
from tenacity import RetryCallState, wait_random_exponential

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Timeouts, refused or reset connections, and a peer that hung up mid-response.
RETRY_EXCEPTIONS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class RetryableStatus(Exception):
    """A response whose status says 'try again later'."""

    def __init__(self, url: str, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status} from {url}")
        self.url = url
        self.status = status
        self.retry_after = retry_after


class EmptyBody(Exception):
    """HTTP 200 with an empty body: usually a server hiccup, so asked again."""


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, (RetryableStatus, EmptyBody, *RETRY_EXCEPTIONS))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not "²": isdigit() alone admits it
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


class wait_retry_after:
    """The server's Retry-After (capped) when it sent one, else exponential backoff with full jitter."""

    def __init__(self, base: float, maximum: float, retry_after_cap: float) -> None:
        self.backoff = wait_random_exponential(multiplier=base, max=maximum)
        self.cap = retry_after_cap

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableStatus) and exc.retry_after is not None:
            return min(exc.retry_after, self.cap)
        return self.backoff(state)
