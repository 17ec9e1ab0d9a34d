"""Faulty responses for the bundled site: script them per path with `Site.script(path, *faults)`.

Each function returns a `Response` the server plays out as described: a failing server, a rate
limit, a broken connection, a half-written or hostile page. docs/faults.md says what ingest does
with each.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from email.utils import format_datetime

from ingest.site.server import Response

HTML = {"Content-Type": "text/html; charset=utf-8"}


def status(code: int, **headers: str) -> Response:
    """An error status such as 500, 502, 503 or 504, with a short plain-text body."""
    return Response(code, f"error {code}\n".encode(), {"Content-Type": "text/plain", **headers})


def rate_limited(retry_after: float | datetime) -> Response:
    """429 with Retry-After as delta-seconds, or as an HTTP date when given a datetime."""
    value = format_datetime(retry_after, usegmt=True) if isinstance(retry_after, datetime) else str(int(retry_after))
    return status(429, **{"Retry-After": value})


def reset() -> Response:
    """The connection is reset (TCP RST) once the request has arrived."""
    return Response(0, reset=True)


def stall(seconds: float, then: Response | None = None) -> Response:
    """Nothing at all for `seconds`, then `then` (a page) if the client still waits."""
    return replace(then or page(b""), delay_s=seconds)


def trickle(response: Response, chunk: int, interval_s: float) -> Response:
    """`response`, its body sent `chunk` bytes at a time, `interval_s` apart."""
    return replace(response, chunk=chunk, interval_s=interval_s)


def truncated(response: Response, missing: int) -> Response:
    """`response` declaring its full Content-Length, the connection closed `missing` bytes short."""
    return replace(response, withhold=missing)


def page(body: str | bytes, content_type: str = HTML["Content-Type"]) -> Response:
    """200 with this body: malformed HTML, a block page, a page whose layout changed..."""
    return Response(200, body.encode() if isinstance(body, str) else body, {"Content-Type": content_type})


def empty() -> Response:
    """200 text/html with an empty body."""
    return page(b"")


def captcha() -> Response:
    """A CAPTCHA interstitial answered with 200 in place of the profile."""
    return page("<!DOCTYPE html><html><head><title>Sorry...</title></head><body><h1>Sorry...</h1>"
                "<p>Our systems have detected unusual traffic from your computer network.</p>"
                '<form id="captcha-form"><div class="g-recaptcha"></div></form></body></html>')


def malformed() -> Response:
    """Not a profile at all: unclosed tags, stray bytes and a broken entity."""
    return page(b"<html><body><div class='author-header'<h1>\xff\xfe &#xZZ; <table><tr><td>unclosed"
                b"<ol class=paper-list <li>")


def layout_changed(html: str, renames: dict[str, str] | None = None) -> Response:
    """`html` with class names changed, as when the site ships new markup."""
    for old, new in (renames or {"author-header": "profile-head", "paper-list": "publications"}).items():
        html = html.replace(f'class="{old}"', f'class="{new}"')
    return page(html)


def huge(size: int, *, declared: bool = True) -> Response:
    """A 200 page of `size` bytes; `declared=False` sends no Content-Length (the body ends at close)."""
    body = b"<html><body>" + b"x" * max(0, size - 12)
    return Response(200, body, dict(HTML), declare_length=declared)


def redirect(location: str, code: int = 302) -> Response:
    return Response(code, b"", {"Location": location})
