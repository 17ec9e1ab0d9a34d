"""httpx's API, aiohttp's HTTP/1.1: an httpx transport that sends each request with aiohttp.

httpx's own HTTP/1.1 path cost the event loop ~5x the CPU per page of aiohttp's (~850 against ~4,500 pages/s
fetched on one core here); the client's API, timeouts, redirects by hand, retries and conditional GETs stay
httpx's and ours. What this adapter keeps to (and the httpx-aiohttp package does not): the URL goes out
byte for byte as given (aiohttp would re-quote it, `%3A` becoming `:`), cookies are kept by httpx alone, a reused
connection that resets is not silently asked again (a retry is ours: paced and counted), and aiohttp's
errors become the httpx errors that name what happened (a refused connection is not a timeout).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp
import httpx
from yarl import URL

# Most specific first: aiohttp's timeouts are also connection errors, its connect errors also OS errors.
_ERRORS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),  # a body cut short or badly chunked
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # a status line or headers that do not parse
    (aiohttp.ClientConnectionError, httpx.ReadError),  # reset, broken pipe
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientError, httpx.TransportError),
)


def as_httpx(exc: aiohttp.ClientError) -> httpx.TransportError:
    for aiohttp_error, httpx_error in _ERRORS:
        if isinstance(exc, aiohttp_error):
            message = str(exc) or type(exc).__name__
            if isinstance(exc, aiohttp.ClientPayloadError):  # said as httpx says it, aiohttp's detail after
                message = f"peer closed connection without sending complete message body ({message})"
            return httpx_error(message)
    raise AssertionError("unreachable: aiohttp.ClientError is the last entry")


@contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except aiohttp.ClientError as exc:
        raise as_httpx(exc) from exc


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped():
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        if self._response.content.at_eof():
            self._response.release()  # read whole: the connection goes back to the pool
        else:
            self._response.close()  # abandoned half-way: the rest of the body must not reach the next request


class Transport(httpx.AsyncBaseTransport):
    """Requests sent by one aiohttp session, opened on first use (it needs the running event loop)."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._limits.max_connections or 0,
                                         keepalive_timeout=self._limits.keepalive_expiry,
                                         ssl=httpx.create_ssl_context())  # verified as httpx would
        # trust_env: HTTP(S)_PROXY and NO_PROXY are honoured, as httpx's own transport honours them (aiohttp
        # also reads ~/.netrc then).
        session = aiohttp.ClientSession(connector=connector, auto_decompress=False,  # httpx decodes
                                        cookie_jar=aiohttp.DummyCookieJar(), trust_env=True)
        # RFC 9112 lets a client resend an idempotent request when a reused connection resets; aiohttp does it
        # silently, past the host's gate and uncounted. There is no public switch for it.
        session._retry_connection = False
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._session is None:
            self._session = self._open()
        timeout = request.extensions.get("timeout", {})
        # A URL's user:password already went into the Authorization header (httpx): aiohttp refuses both.
        url = request.url.copy_with(userinfo=b"") if request.url.userinfo else request.url
        with _mapped():
            response = await self._session.request(
                request.method, URL(str(url), encoded=True), headers=request.headers.multi_items(),
                data=request.content or None, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(sock_connect=timeout.get("connect"), sock_read=timeout.get("read"),
                                              connect=timeout.get("pool")))
        return httpx.Response(response.status, headers=response.raw_headers, stream=_Body(response),
                              request=request, extensions={"http_version": b"HTTP/1.1",
                                                           "reason_phrase": (response.reason or "").encode()})

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
