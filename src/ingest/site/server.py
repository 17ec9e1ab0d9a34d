"""The bundled site: serves a `Corpus` over HTTP/1.1 on loopback, for tests, the demo and benchmarks.

A bare asyncio protocol rather than a web framework: it answers thousands of pages a second on one
core, keeps connections alive, and leaves every byte on the wire under our control.
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timezone
from email.utils import format_datetime, parsedate_to_datetime
from html import escape

from ingest.site import arxiv, gscholar, openalex, wayback
from ingest.site.corpus import Corpus

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8740
_AUTHOR = re.compile(r"/author/(\d+)(?:\?page=(\d+))?")
_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 304: "Not Modified", 400: "Bad Request",
            404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # How the bytes go on the wire; `ingest.site.faults` builds the unhappy ones.
    delay_s: float = 0.0  # silence before the first byte
    chunk: int = 0  # send the body `chunk` bytes at a time, `interval_s` apart (0: all at once)
    interval_s: float = 0.0
    withhold: int = 0  # body bytes never sent: the connection closes short of Content-Length
    declare_length: bool = True  # False: no Content-Length, the body ends when the connection closes
    reset: bool = False  # reset the connection (TCP RST) instead of answering

    @property
    def plain(self) -> bool:
        return not (self.delay_s or self.chunk or self.withhold or self.reset or not self.declare_length)


class Site:
    """Routing and conditional-GET logic, independent of the transport."""

    def __init__(self, corpus: Corpus, *, validators: bool = True,
                 scholar: dict[str, gscholar.Profile] | None = None, api_page_size: int = openalex.MAX_PER_PAGE) -> None:
        self.corpus = corpus
        self.scholar = gscholar.default_profiles() if scholar is None else scholar  # Scholar-like profiles
        self.api_page_size = api_page_size  # the bundled OpenAlex's largest works page
        self.validators = validators  # False: no ETag/Last-Modified, so clients must hash bodies
        self.hits: Counter[str] = Counter()  # path -> requests seen
        self.statuses: Counter[int] = Counter()
        self.requests: deque[tuple[float, str, dict[str, str]]] = deque(maxlen=100_000)  # (time, path, headers)
        self._scripts: dict[str, deque[Response]] = {}

    def script(self, path: str, *responses: Response) -> None:
        """Answer the next requests for `path` with `responses`, in order, then serve it normally."""
        self._scripts.setdefault(path, deque()).extend(responses)

    def respond(self, method: str, target: str, headers: dict[str, str]) -> Response:
        self.hits[target] += 1
        self.requests.append((time.monotonic(), target, headers))
        scripted = self._scripts.get(target)
        response = scripted.popleft() if scripted else self._route(method, target, headers)
        self.statuses[response.status] += 1
        return response

    def _route(self, method: str, target: str, headers: dict[str, str]) -> Response:
        if method not in ("GET", "HEAD"):
            return Response(405, b"method not allowed\n", {"Allow": "GET, HEAD"})
        if target == "/sitemap.xml":
            return Response(200, self.sitemap(headers.get("host", "")).encode(), {"Content-Type": "application/xml"})
        if target == "/robots.txt":
            return Response(200, f"User-agent: *\n{gscholar.ROBOTS_RULES}Allow: /\n".encode(),
                            {"Content-Type": "text/plain"})
        if not target.startswith("/author/"):  # the hot path: Scholar Feed pages
            for answer in (route() for route in (lambda: gscholar.route(self.scholar, target),
                                                 lambda: openalex.route(self.corpus, target, self.api_page_size),
                                                 lambda: arxiv.route(self.corpus, target),
                                                 # the site's past: a Wayback-like archive at /cdx/ and /web/
                                                 lambda: wayback.route(self.corpus, target, headers.get("host", "")))):
                if answer is not None:
                    return Response(*answer)
        match = _AUTHOR.fullmatch(target)
        if not match:
            return Response(404, b"not found\n", {"Content-Type": "text/plain"})
        return self._author_page(int(match.group(1)), int(match.group(2) or 1), headers)

    def _author_page(self, author_id: int, page: int, headers: dict[str, str]) -> Response:
        if author_id not in self.corpus.author_ids() or page < 1:
            return Response(404, b"no such author\n", {"Content-Type": "text/plain"})
        if page > self.corpus.page_count(author_id):
            return Response(404, b"no such page\n", {"Content-Type": "text/plain"})
        meta = {"Content-Type": "text/html; charset=utf-8"}
        if self.validators:
            etag = f'"{self.corpus.seed:x}-{author_id}-{self.corpus.version(author_id)}-{page}"'
            modified = self.corpus.last_modified(author_id)
            meta |= {"ETag": etag, "Last-Modified": format_datetime(modified, usegmt=True)}
            if _not_modified(headers, etag, modified):
                return Response(304, b"", meta)
        return Response(200, self.corpus.render(author_id, page).encode(), meta)

    def sitemap(self, host: str) -> str:
        base = f"http://{host}" if host else ""
        urls = "".join(f"<url><loc>{escape(base)}/author/{a}</loc></url>\n" for a in self.corpus.author_ids())
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n')


def _not_modified(headers: dict[str, str], etag: str, modified) -> bool:
    if "if-none-match" in headers:  # RFC 9110: If-None-Match wins over If-Modified-Since
        return etag in (t.strip() for t in headers["if-none-match"].split(","))
    if "if-modified-since" in headers:
        try:
            since = parsedate_to_datetime(headers["if-modified-since"])
        except (TypeError, ValueError):
            return False
        # asctime dates carry no zone; HTTP dates are always GMT
        return modified <= (since if since.tzinfo else since.replace(tzinfo=timezone.utc))
    return False


class _HttpProtocol(asyncio.Protocol):
    """Minimal HTTP/1.1 server side: GET/HEAD without request bodies, keep-alive, pipelining.

    A plain response is written at once; a faulty one is played out with `call_later` while the
    connection's later requests wait their turn.
    """

    def __init__(self, site: Site) -> None:
        self.site = site
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.busy = False  # a response is being played out

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._serve_buffered()

    def _serve_buffered(self) -> None:
        while not self.busy and b"\r\n\r\n" in self.buffer and self.transport and not self.transport.is_closing():
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self._handle(head.decode("latin-1"))
        if len(self.buffer) > 65536:  # a header block this large is not a client of ours
            self.transport.close()

    def _handle(self, head: str) -> None:
        request_line, *lines = head.split("\r\n")
        parts = request_line.split(" ")
        if len(parts) != 3:
            self._write(Response(400, b"bad request\n"), keep_alive=False, head_only=False)
            return
        method, target, version = parts
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" and (version == "HTTP/1.1" or connection == "keep-alive")
        response = self.site.respond(method, target, headers)
        if response.plain:
            self._write(response, keep_alive=keep_alive, head_only=method == "HEAD")
        else:
            self._play(response, keep_alive=keep_alive, head_only=method == "HEAD")

    def _encode(self, response: Response, *, keep_alive: bool, head_only: bool) -> tuple[bytes, bytes]:
        lines = [f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Unknown')}"]
        lines += [f"{k}: {v}" for k, v in response.headers.items()]
        if response.status != 304 and response.declare_length:
            lines.append(f"Content-Length: {len(response.body)}")
        lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head, b"" if head_only or response.status == 304 else response.body

    def _write(self, response: Response, *, keep_alive: bool, head_only: bool) -> None:
        head, body = self._encode(response, keep_alive=keep_alive, head_only=head_only)
        self.transport.write(head + body)
        if not keep_alive:
            self.transport.close()

    def _play(self, response: Response, *, keep_alive: bool, head_only: bool) -> None:
        self.busy = True
        loop = asyncio.get_running_loop()
        keep_alive = keep_alive and response.declare_length and not response.withhold
        head, body = self._encode(response, keep_alive=keep_alive, head_only=head_only)
        body = body[: len(body) - response.withhold] if response.withhold else body
        step = response.chunk or len(body) or 1
        parts = [head, *(body[i: i + step] for i in range(0, len(body), step))]

        def send(index: int) -> None:
            transport = self.transport
            if transport is None or transport.is_closing():  # the client gave up
                return
            if response.reset:
                # Linger 0: close() sends RST, not FIN.
                transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                              struct.pack("ii", 1, 0))
                transport.abort()
                return
            transport.write(parts[index])
            if index + 1 < len(parts):
                loop.call_later(response.interval_s, send, index + 1)
            elif not keep_alive:
                transport.close()
            else:
                self.busy = False
                self._serve_buffered()

        loop.call_later(response.delay_s, send, 0)

    def connection_lost(self, exc) -> None:
        self.transport = None


async def start(site: Site, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: _HttpProtocol(site), host, port, reuse_address=True, backlog=1024)


@contextmanager
def serve_in_thread(site: Site, host: str = DEFAULT_HOST, port: int = 0) -> Iterator[str]:
    """Serve `site` from a background thread; yields its base URL. Port 0 picks a free port."""
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(start(site, host, port))
    thread = threading.Thread(target=loop.run_forever, name="ingest-site", daemon=True)
    thread.start()
    try:
        bound = server.sockets[0].getsockname()
        yield f"http://{bound[0]}:{bound[1]}"
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.run_until_complete(server.wait_closed())
        loop.close()


def serve_forever(site: Site, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    async def main() -> None:
        server = await start(site, host, port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())
