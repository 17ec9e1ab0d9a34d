"""robots.txt (RFC 9309), parsed by protego: wildcards, Allow/Disallow precedence, Crawl-delay.

A failed robots.txt fetch: a client error (404, 403, ...) or an unusable answer (empty, too large,
redirected away) means no rules; a transient failure (server error, rate limit, timeout, network)
means the site is unreachable, and nothing is fetched from it this run.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from protego import Protego

NO_RULES = Protego.parse("")


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


def parse(body: bytes | None) -> Protego:
    return Protego.parse((body or b"").decode("utf-8", "replace"))
