"""Fetch pages politely: httpx with tenacity retries, per-host gates, size and type checks, conditional GET,
and only what may be fetched: allowed hosts, allowed addresses, what robots.txt permits."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from ingest.config import HttpSettings
from ingest.failpoint import failpoint
from ingest.http import robots
from ingest.http.addresses import address_allowed, parse_networks, resolve
from ingest.http.politeness import Politeness, politeness_for
from ingest.http.retry import (
    RETRY_STATUSES,
    EmptyBody,
    RetryableStatus,
    is_retryable,
    parse_retry_after,
    wait_retry_after,
)
from ingest.http.throttle import HostGates, Reserve
from ingest.http.transport import Transport

log = logging.getLogger(__name__)

XML = ("application/xml", "text/xml")


class FetchError(Exception):
    """A page could not be fetched. `retryable` failures were retried until attempts ran out; a page refused
    before any request for it went out (host, address, robots.txt) was not `requested`."""

    def __init__(self, url: str, reason: str, detail: str, *, retryable: bool = False, status: int | None = None,
                 body: bytes | None = None, requested: bool = True):
        super().__init__(f"{reason}: {detail} ({url})")
        self.url = url
        self.reason = reason
        self.detail = detail
        self.retryable = retryable
        self.status = status
        self.body = body  # what was received, kept for the quarantine
        self.requested = requested


@dataclass(frozen=True, slots=True)
class Validators:
    """What we know of a URL from its last successful load."""

    etag: str | None = None
    last_modified: str | None = None
    content_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # after redirects
    status: int  # 200, or 304
    body: bytes | None  # None when the server answered 304
    headers: dict[str, str]  # of the final response, names in lower case
    fetched_at: datetime  # when the response's head arrived
    etag: str | None
    last_modified: str | None
    content_sha256: str | None
    unchanged: bool  # 304, or a body hashing equal to the last one


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


class Fetcher:
    """One per run: shares connections, host gates and the retry count across all requests.

    `politeness` gives each host's spacing, cap and jitter; by default the `[http]` settings and `http.hosts`.
    """

    def __init__(self, settings: HttpSettings, allowed_hosts: frozenset[str] | None = None,
                 reserve: Reserve | None = None, politeness: Callable[[str], Politeness] | None = None,
                 closed: Callable[[str], str | None] | None = None) -> None:
        self.settings = settings
        # Why a host may not be asked anything now (its circuit breaker is open), checked as a request's turn
        # comes: a host that blocked us gets no request from those already waiting in its gate either.
        self.closed = closed or (lambda host: None)
        self.allowed_hosts = allowed_hosts  # None: any host
        # Also handed every page fetched whole, with the headers its request went with: a WARC writer.
        self.keep: Callable[[Fetched, Mapping[str, str]], None] | None = None
        self.retries = 0
        self._gates = HostGates(politeness or (lambda host: politeness_for(host, settings, ())), reserve)
        self._networks = parse_networks(settings.allowed_networks)
        self._refused_addresses: dict[str, str | None] = {}  # host -> why it is refused, or None
        self._robots: dict[str, asyncio.Future[Protego]] = {}  # robots.txt URL -> its rules
        limits = httpx.Limits(max_connections=settings.max_connections,
                              max_keepalive_connections=settings.max_connections)
        self._client = httpx.AsyncClient(
            headers={"User-Agent": settings.user_agent},
            timeout=httpx.Timeout(settings.read_timeout_s, connect=settings.connect_timeout_s),
            # aiohttp under httpx's API: httpx's own HTTP/1.1 path cost the event loop ~5x the CPU per page.
            transport=Transport(limits=limits),
            follow_redirects=False,  # followed by hand, so every hop is checked against allowed hosts
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self._client.aclose()

    def _check_host(self, url: str) -> None:
        if self.allowed_hosts is not None and host_of(url) not in self.allowed_hosts:
            raise FetchError(url, "host_not_allowed", f"{host_of(url) or url!r} is not an allowed host",
                             requested=False)

    async def _check_address(self, url: str) -> None:
        host = host_of(url)
        if host not in self._refused_addresses:
            try:
                addresses = await resolve(host)
            except OSError as exc:
                raise FetchError(url, "dns", f"cannot resolve {host}: {exc}", retryable=True, requested=False) from None
            refused = [a for a in addresses if not address_allowed(a, self._networks)]
            self._refused_addresses[host] = (f"{host} resolves to {', '.join(refused)}, outside the public internet "
                                             "and http.allowed_networks") if refused else None
        if why := self._refused_addresses[host]:
            raise FetchError(url, "address_not_allowed", why, requested=False)

    async def _check_robots(self, url: str) -> None:
        key = robots.robots_url(url)
        if key not in self._robots:  # one fetch per site, shared by every request waiting for it
            self._robots[key] = asyncio.ensure_future(self._fetch_robots(key))
        if not (await self._robots[key]).can_fetch(url, self.settings.user_agent):
            raise FetchError(url, "robots", f"robots.txt disallows it for {self.settings.user_agent!r}", requested=False)

    async def _fetch_robots(self, url: str) -> Protego:
        try:
            fetched = await self._fetch(url, None, None, obey_robots=False)
        except FetchError as exc:
            if exc.retryable:  # unreachable: RFC 9309 says assume everything is disallowed
                raise FetchError(url, exc.reason, f"robots.txt unreachable: {exc.detail}", retryable=True,
                                 requested=False) from None
            return robots.NO_RULES
        rules = robots.parse(fetched.body)
        if delay := rules.crawl_delay(self.settings.user_agent):
            self._gates[host_of(url)].space_at_least(min(delay, self.settings.max_crawl_delay_s))
        return rules

    async def get(self, url: str, known: Validators | None = None, *,
                  content_types: tuple[str, ...] | None = None,
                  is_block: Callable[[str], bool] | None = None, block_statuses: tuple[int, ...] = (),
                  params: dict[str, str] | None = None) -> Fetched:
        """GET `url`, retrying transient failures; conditional when `known` has validators. With `content_types`,
        an answer of another media type is refused (`content_type`). A redirect to a URL `is_block` names (a
        CAPTCHA or sign-in page) is not followed, and a status in `block_statuses` not retried: both raise
        `blocked`. `params` go with the request to `url`'s host (not to other hosts it redirects to) and into
        no URL we keep: credentials."""
        self._check_host(url)
        return await self._fetch(url, known, content_types, obey_robots=self.settings.obey_robots_txt,
                                 is_block=is_block, block_statuses=block_statuses, params=params)

    async def _fetch(self, url: str, known: Validators | None, content_types: tuple[str, ...] | None, *,
                     obey_robots: bool, is_block: Callable[[str], bool] | None = None,
                     block_statuses: tuple[int, ...] = (), params: dict[str, str] | None = None) -> Fetched:
        def count_retry(state) -> None:
            self.retries += 1
            log.info("retrying %s after %s (attempt %d)", url, state.outcome.exception(), state.attempt_number)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.max_attempts),
            wait=wait_retry_after(self.settings.backoff_base_s, self.settings.backoff_max_s,
                                  self.settings.retry_after_cap_s),
            retry=retry_if_exception(is_retryable),
            before_sleep=count_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    fetched = await self._get_once(url, known, content_types, obey_robots, is_block, block_statuses,
                                                   params)
                    failpoint("fetched")
                    return fetched
        except RetryableStatus as exc:
            raise FetchError(url, f"http_{exc.status}", f"still HTTP {exc.status} after "
                             f"{self.settings.max_attempts} attempts", retryable=True, status=exc.status) from exc
        except EmptyBody:
            raise FetchError(url, "empty", f"HTTP 200 with an empty body, {self.settings.max_attempts} times",
                             body=b"") from None
        except httpx.HTTPError as exc:
            reason = ("timeout" if isinstance(exc, httpx.TimeoutException) else
                      "protocol" if isinstance(exc, httpx.RemoteProtocolError) else "connection")
            raise FetchError(url, reason, f"{type(exc).__name__} after {self.settings.max_attempts} attempts: "
                             f"{exc}", retryable=True) from exc
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _get_once(self, url: str, known: Validators | None, content_types: tuple[str, ...] | None,
                        obey_robots: bool, is_block: Callable[[str], bool] | None,
                        block_statuses: tuple[int, ...], params: dict[str, str] | None = None) -> Fetched:
        headers = {}
        if known and known.etag:
            headers["If-None-Match"] = known.etag
        if known and known.last_modified:
            headers["If-Modified-Since"] = known.last_modified
        seen = [url]
        params_host = host_of(url)
        for _ in range(self.settings.max_redirects + 1):
            try:
                await self._check_address(url)  # every hop: a redirect may lead to another host
                if obey_robots:
                    await self._check_robots(url)
            except FetchError as exc:
                exc.requested = len(seen) > 1  # refused at a redirect: the page itself was requested
                raise
            async with self._gates[host_of(url)]:
                if why := self.closed(host_of(url)):
                    raise FetchError(url, "host_blocked", why, requested=len(seen) > 1)
                try:
                    # read_timeout_s bounds each wait for bytes; this bounds a trickle of them.
                    async with asyncio.timeout(self.settings.response_timeout_s):
                        # Merged into the query by hand: httpx's `params=` would replace the URL's own.
                        sent = httpx.URL(url).copy_merge_params(params) if params and host_of(url) == params_host \
                            else url
                        async with self._client.stream("GET", sent, headers=headers) as response:
                            if response.has_redirect_location:
                                url = self._redirect_target(url, response, seen, is_block)
                                continue
                            if response.status_code in block_statuses:
                                raise FetchError(url, "blocked", f"HTTP {response.status_code}",
                                                 status=response.status_code)
                            return await self._read(url, response, known, content_types)
                except TimeoutError:
                    raise httpx.ReadTimeout(f"no complete response within {self.settings.response_timeout_s} s") \
                        from None
        raise FetchError(seen[0], "too_many_redirects", f"more than {self.settings.max_redirects} redirects")

    def _redirect_target(self, url: str, response: httpx.Response, seen: list[str],
                         is_block: Callable[[str], bool] | None) -> str:
        target = urljoin(url, response.headers.get("location", ""))
        if is_block is not None and is_block(target):
            raise FetchError(seen[0], "blocked", f"redirected to {target}")
        if target in seen:
            raise FetchError(seen[0], "redirect_loop", " -> ".join([*seen, target]))
        try:
            self._check_host(target)
        except FetchError as exc:
            raise FetchError(seen[0], "redirect_refused", f"redirect to {target}: {exc.detail}") from None
        seen.append(target)
        return target

    async def _read(self, url: str, response: httpx.Response, known: Validators | None,
                    content_types: tuple[str, ...] | None) -> Fetched:
        fetched_at = datetime.now(timezone.utc)
        status = response.status_code
        if status in RETRY_STATUSES:
            raise RetryableStatus(url, status, parse_retry_after(response.headers.get("retry-after")))
        headers = dict(response.headers)  # httpx gives names in lower case
        etag, last_modified = headers.get("etag"), headers.get("last-modified")
        if status == 304 and known:
            return Fetched(url, 304, None, headers, fetched_at, etag or known.etag, last_modified or known.last_modified,
                           known.content_sha256, True)
        if status != 200:
            raise FetchError(url, f"http_{status}", f"HTTP {status}", status=status)
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_types is not None and content_type not in content_types:
            raise FetchError(url, "content_type", f"expected {' or '.join(content_types)}, got {content_type or 'none'}")
        cap = self.settings.max_body_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchError(url, "too_large", f"Content-Length {declared} exceeds the cap of {cap} bytes")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            chunks.append(chunk)
            if size > cap:
                raise FetchError(url, "too_large", f"body exceeds the cap of {cap} bytes", body=b"".join(chunks)[:cap])
        body = b"".join(chunks)
        if not body:
            raise EmptyBody(url)
        digest = hashlib.sha256(body).hexdigest()
        unchanged = bool(known and known.content_sha256 == digest)
        fetched = Fetched(url, 200, body, headers, fetched_at, etag, last_modified, digest, unchanged)
        if self.keep is not None:
            self.keep(fetched, response.request.headers)
        return fetched
