"""The bundled site's faults do on the wire what they say: seen through a plain httpx client."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import httpx
import pytest

from ingest.site import faults
from ingest.site.server import Response

PATH = "/author/1"


@pytest.fixture
def client(site_url) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site_url, timeout=httpx.Timeout(2.0)) as client:
        yield client


@pytest.fixture
def seed(site) -> bytes:
    return site.corpus.render(1, 1).encode()


def test_scripted_faults_are_served_in_order_then_the_page_itself(site, client):
    site.script(PATH, faults.status(503), faults.status(502))
    assert [client.get(PATH).status_code for _ in range(3)] == [503, 502, 200]


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_server_errors(site, client, code):
    site.script(PATH, faults.status(code))
    assert client.get(PATH).status_code == code


def test_rate_limit_with_retry_after_in_seconds(site, client):
    site.script(PATH, faults.rate_limited(7))
    response = client.get(PATH)
    assert (response.status_code, response.headers["retry-after"]) == (429, "7")


def test_rate_limit_with_retry_after_as_an_http_date(site, client):
    when = datetime(2030, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    site.script(PATH, faults.rate_limited(when))
    response = client.get(PATH)
    assert response.headers["retry-after"] == "Mon, 06 May 2030 07:08:09 GMT"
    assert parsedate_to_datetime(response.headers["retry-after"]) == when


def test_reset_breaks_the_connection(site, client):
    site.script(PATH, faults.reset())
    with pytest.raises(httpx.ReadError, match="reset"):
        client.get(PATH)
    assert client.get(PATH).status_code == 200  # a new connection is served normally


def test_stall_sends_nothing_until_the_client_times_out(site, client):
    site.script(PATH, faults.stall(5))
    with pytest.raises(httpx.ReadTimeout):
        client.get(PATH, timeout=0.3)
    assert client.get(PATH).status_code == 200


def test_stall_then_answers_a_patient_client(site, client):
    site.script(PATH, faults.stall(0.3, faults.status(504)))
    started = time.monotonic()
    assert client.get(PATH).status_code == 504
    assert time.monotonic() - started >= 0.25


def test_trickle_sends_the_whole_body_in_small_pieces(site, client, seed):
    site.script(PATH, faults.trickle(faults.page(seed), chunk=4000, interval_s=0.05))
    chunks = []
    with client.stream("GET", PATH) as response:
        chunks = list(response.iter_raw())
    assert b"".join(chunks) == seed
    assert len(chunks) > 1


def test_truncated_body_closes_short_of_its_content_length(site, client, seed):
    site.script(PATH, faults.truncated(faults.page(seed), missing=100))
    with pytest.raises(httpx.RemoteProtocolError, match=f"received {len(seed) - 100} bytes, expected {len(seed)}"):
        client.get(PATH)


def test_empty_200(site, client):
    site.script(PATH, faults.empty())
    response = client.get(PATH)
    assert (response.status_code, response.content, response.headers["content-type"]) == (200, b"",
                                                                                          faults.HTML["Content-Type"])


def test_captcha_page_is_a_200_with_a_block_message(site, client):
    site.script(PATH, faults.captcha())
    response = client.get(PATH)
    assert response.status_code == 200 and "unusual traffic" in response.text


def test_layout_change_renames_the_expected_classes(site, client, seed):
    site.script(PATH, faults.layout_changed(seed.decode()))
    text = client.get(PATH).text
    assert 'class="author-header"' not in text and 'class="profile-head"' in text
    assert 'class="paper-list"' not in text and "Sashank Reddi" in text


def test_huge_body_declares_its_length_or_ends_at_close(site, client):
    site.script(PATH, faults.huge(100_000), faults.huge(100_000, declared=False))
    declared, undeclared = client.get(PATH), client.get(PATH)
    assert declared.headers["content-length"] == "100000" and len(declared.content) == 100_000
    assert "content-length" not in undeclared.headers and len(undeclared.content) == 100_000


def test_any_content_type(site, client):
    site.script(PATH, faults.page(b"%PDF-1.7", "application/pdf"))
    response = client.get(PATH)
    assert (response.headers["content-type"], response.content) == ("application/pdf", b"%PDF-1.7")


def test_redirect(site, client):
    site.script(PATH, faults.redirect("/elsewhere", 301))
    response = client.get(PATH)
    assert (response.status_code, response.headers["location"]) == (301, "/elsewhere")


def test_later_requests_on_a_connection_wait_for_a_slow_response(site, site_url, seed):
    """Pipelined requests are answered in order, even when the first one is played out slowly."""
    site.script(PATH, faults.trickle(faults.page(seed), chunk=5000, interval_s=0.02))
    host, port = site_url.removeprefix("http://").split(":")
    request = f"GET {PATH} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(request + request.replace(b"1 HTTP", b"1001 HTTP"))
        sock.settimeout(5)
        received = b""
        while received.count(b"HTTP/1.1 200") < 2 or not received.endswith(b"</html>\n"):
            received += sock.recv(65536)
    first, second = received.split(b"HTTP/1.1 200 OK")[1:]
    assert seed in first and b"/author/1001" in second


def test_a_plain_response_has_no_wire_faults():
    assert Response(200).plain
    assert not faults.stall(1).plain and not faults.reset().plain and not faults.huge(1, declared=False).plain
