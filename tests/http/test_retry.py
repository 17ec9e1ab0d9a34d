"""The retry decision (which failures are transient) and the wait before the next attempt."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import tenacity
from tenacity import RetryCallState

from ingest.http.retry import RetryableStatus, is_retryable, parse_retry_after, wait_retry_after

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
URL = "http://127.0.0.1:8740/author/1"
SAMPLES = 300


def http_date(when: datetime) -> str:
    return when.strftime("%a, %d %b %Y %H:%M:%S GMT")


def state_after(exc: BaseException, attempt_number: int) -> RetryCallState:
    """The call state tenacity hands a wait strategy after attempt `attempt_number` raised `exc`."""
    state = RetryCallState(tenacity.Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt_number
    try:
        raise exc
    except BaseException:
        state.set_exception(sys.exc_info())
    return state


def waits(wait: wait_retry_after, exc: BaseException, attempt_number: int) -> list[float]:
    return [wait(state_after(exc, attempt_number)) for _ in range(SAMPLES)]


# -- Retry-After -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value, seconds", [("0", 0.0), ("7", 7.0), ("120", 120.0), (" 30 ", 30.0)])
def test_retry_after_in_seconds(value, seconds):
    assert parse_retry_after(value, NOW) == seconds


def test_retry_after_as_an_http_date_is_the_time_until_then():
    assert parse_retry_after(http_date(NOW + timedelta(seconds=90)), NOW) == 90.0


@pytest.mark.parametrize("value", [
    "Sunday, 01-Mar-26 12:01:30 GMT",  # RFC 850
    "Sun, 01 Mar 2026 12:01:30 GMT",  # IMF-fixdate
    "Sun Mar  1 12:01:30 2026",  # asctime, no zone: read as UTC
])
def test_retry_after_accepts_every_http_date_format(value):
    assert parse_retry_after(value, NOW) == 90.0


def test_retry_after_counts_from_the_given_now():
    when = http_date(NOW + timedelta(minutes=5))
    assert parse_retry_after(when, NOW + timedelta(minutes=2)) == 180.0


def test_retry_after_date_in_the_past_means_no_wait():
    assert parse_retry_after(http_date(NOW - timedelta(hours=1)), NOW) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "1.5", "-5", "10s", "Tomorrow at noon"])
def test_absent_or_invalid_retry_after_is_none(value):
    assert parse_retry_after(value, NOW) is None


@pytest.mark.parametrize("value", ["²", "1²"])
def test_retry_after_with_non_ascii_digits_is_invalid(value):
    assert parse_retry_after(value, NOW) is None


# -- what is retried -------------------------------------------------------------------------------

def request() -> httpx.Request:
    return httpx.Request("GET", URL)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retryable(status):
    assert is_retryable(RetryableStatus(URL, status, None))


@pytest.mark.parametrize("exc", [
    httpx.ConnectTimeout("connect", request=request()),
    httpx.ReadTimeout("read", request=request()),
    httpx.WriteTimeout("write", request=request()),
    httpx.PoolTimeout("pool", request=request()),
    httpx.ConnectError("refused", request=request()),
    httpx.ReadError("reset", request=request()),
    httpx.WriteError("broken pipe", request=request()),
    httpx.RemoteProtocolError("peer closed connection", request=request()),
], ids=lambda exc: type(exc).__name__)
def test_timeouts_and_connection_failures_are_retryable(exc):
    assert is_retryable(exc)


@pytest.mark.parametrize("exc", [
    ValueError("bad"),
    KeyError("x"),
    httpx.LocalProtocolError("our request was malformed"),
    httpx.UnsupportedProtocol("ftp://x"),
    httpx.TooManyRedirects("loop", request=request()),
    httpx.DecodingError("bad gzip"),
], ids=lambda exc: type(exc).__name__)
def test_other_failures_are_not_retryable(exc):
    assert not is_retryable(exc)


def test_retryable_status_carries_its_url_status_and_retry_after():
    exc = RetryableStatus(URL, 429, 12.0)
    assert (exc.url, exc.status, exc.retry_after) == (URL, 429, 12.0)
    assert str(exc) == f"HTTP 429 from {URL}"


# -- how long to wait ------------------------------------------------------------------------------

def test_the_servers_retry_after_is_the_wait():
    wait = wait_retry_after(base=0.5, maximum=30.0, retry_after_cap=120.0)
    assert waits(wait, RetryableStatus(URL, 503, 45.0), attempt_number=1) == [45.0] * SAMPLES


def test_a_retry_after_above_the_cap_is_capped():
    wait = wait_retry_after(base=0.5, maximum=30.0, retry_after_cap=120.0)
    assert wait(state_after(RetryableStatus(URL, 429, 3600.0), attempt_number=2)) == 120.0


def test_a_retry_after_of_zero_means_retry_at_once():
    wait = wait_retry_after(base=0.5, maximum=30.0, retry_after_cap=120.0)
    assert wait(state_after(RetryableStatus(URL, 503, 0.0), attempt_number=3)) == 0.0


def test_retry_after_is_used_even_beyond_the_backoff_maximum():
    wait = wait_retry_after(base=0.5, maximum=2.0, retry_after_cap=120.0)
    assert wait(state_after(RetryableStatus(URL, 503, 60.0), attempt_number=1)) == 60.0


def backoff_bound(base: float, maximum: float, attempt_number: int) -> float:
    """Full jitter: after attempt n the wait is uniform in [0, min(maximum, base * 2^(n-1))]."""
    return min(maximum, base * 2 ** (attempt_number - 1))


@pytest.mark.parametrize("exc", [
    RetryableStatus(URL, 503, None),
    httpx.ReadTimeout("read", request=request()),
], ids=["status without Retry-After", "timeout"])
@pytest.mark.parametrize("attempt_number", [1, 2, 3, 4, 8, 12])
def test_without_retry_after_the_wait_is_full_jitter_backoff_within_bounds(exc, attempt_number):
    base, maximum = 0.5, 30.0
    samples = waits(wait_retry_after(base, maximum, retry_after_cap=120.0), exc, attempt_number)
    bound = backoff_bound(base, maximum, attempt_number)
    assert all(0.0 <= s <= bound for s in samples)
    # Full jitter spreads over the whole range: 300 uniform draws all in one half is ~2^-300.
    assert min(samples) < bound / 2 < max(samples)


def test_backoff_grows_with_the_attempt_number_until_the_maximum():
    wait = wait_retry_after(base=1.0, maximum=8.0, retry_after_cap=120.0)
    exc = RetryableStatus(URL, 500, None)
    highest = [max(waits(wait, exc, n)) for n in (1, 2, 3, 4, 5, 6)]
    assert highest[0] <= 1.0 < highest[1] <= 2.0 < highest[2] <= 4.0 < highest[3] <= 8.0
    assert all(h <= 8.0 for h in highest[4:])
    assert all(h > 4.0 for h in highest[4:])


def test_backoff_base_zero_never_waits():
    wait = wait_retry_after(base=0.0, maximum=30.0, retry_after_cap=120.0)
    assert set(waits(wait, httpx.ConnectError("refused", request=request()), 5)) == {0.0}


def test_the_wait_plugs_into_tenacity_and_honours_retry_after():
    slept: list[float] = []
    calls = iter([RetryableStatus(URL, 429, 2.5), RetryableStatus(URL, 503, 500.0), None])

    def flaky() -> str:
        exc = next(calls)
        if exc is not None:
            raise exc
        return "ok"

    retrying = tenacity.Retrying(
        wait=wait_retry_after(base=0.5, maximum=30.0, retry_after_cap=10.0),
        retry=tenacity.retry_if_exception(is_retryable),
        stop=tenacity.stop_after_attempt(5),
        sleep=slept.append,
    )
    assert retrying(flaky) == "ok"
    assert slept == [2.5, 10.0]
