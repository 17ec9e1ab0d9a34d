"""The aiohttp transport under httpx, against real servers on 127.0.0.1: what goes out is what was asked,
and what goes wrong is told as httpx tells it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from ingest.http.transport import Transport

LIMITS = httpx.Limits(max_connections=4)


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=Transport(LIMITS), timeout=httpx.Timeout(2.0))


@pytest.fixture
def raw_server() -> Iterator[tuple[str, list[bytes]]]:
    """A server that answers each connection's request with the next bytes of its list, then closes."""
    answers: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(answers.pop(0) if answers else b"")

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", answers
    listener.close()


async def test_the_url_goes_out_byte_for_byte(site, site_url):
    path = "/cdx/search/cdx?url=http%3A%2F%2Fexample.org%2Fa%2Cb&fl=original%2Ctimestamp&x=%7E"
    async with client() as http:
        await http.get(site_url + path)
    assert site.requests[-1][1] == path


async def test_a_body_is_read_whole_and_connections_are_reused(site, site_url):
    async with client() as http:
        pages = [await http.get(f"{site_url}/author/1") for _ in range(3)]
    assert all(page.status_code == 200 and b"Sashank Reddi" in page.content for page in pages)
    assert len({page.headers["etag"] for page in pages}) == 1


async def test_a_response_that_does_not_parse_is_a_protocol_error(raw_server):
    url, answers = raw_server
    answers.append(b"NOT HTTP AT ALL\r\n\r\n")
    async with client() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(url)


async def test_a_body_cut_short_is_a_protocol_error_saying_so(raw_server):
    url, answers = raw_server
    answers.append(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
    async with client() as http:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending complete message body"):
            await http.get(url)


async def test_nothing_listening_is_a_connect_error_not_a_timeout():
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/")


async def test_a_silent_server_is_a_read_timeout():
    silent = socket.create_server(("127.0.0.1", 0))  # accepts (the backlog) and never answers
    try:
        async with httpx.AsyncClient(transport=Transport(LIMITS), timeout=httpx.Timeout(0.3)) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get(f"http://127.0.0.1:{silent.getsockname()[1]}/")
    finally:
        silent.close()

