"""A profile's past in the Wayback Machine (or an archive speaking its APIs), over our fetcher: the captures its
CDX index lists, paged by resume key, and each capture's raw body. The archive is a host like any other (robots.txt,
pacing, retries, Retry-After); the real one throttles hard, so its default pacing is slow."""

from __future__ import annotations

from ingest.http.fetch import Fetched, Fetcher
from ingest.http.politeness import Politeness
from ingest.webarchive import cdx
from ingest.webarchive.cdx import Capture

# web.archive.org answers bursts with 429s and then refuses connections for minutes: one request at a time,
# about one a second, unless `[http.hosts."web.archive.org"]` says otherwise.
HOST_DEFAULTS = [("web.archive.org", Politeness(interval_s=1.0, concurrency=1, jitter_s=0.5))]
CDX_TYPES = ("application/json", "text/plain")


async def captures(fetcher: Fetcher, archive: str, url: str, *, after: str | None = None, since: str | None = None,
                   until: str | None = None, limit: int = 500, page_size: int = 1000) -> list[Capture]:
    """`url`'s successful captures with distinct bodies, oldest first: those after the timestamp `after` (a cursor)
    and between `since` and `until` (timestamps or prefixes), at most `limit`, in at most `limit / page_size + 2`
    requests. Raises `FetchError` (the archive did not answer) or `CdxError` (its answer is no index)."""
    start = after if after and (since is None or after >= since) else since  # `from=` is inclusive: `after` dropped
    found: dict[str, Capture] = {}
    resume_key: str | None = None
    for _ in range(limit // page_size + 2):
        fetched = await fetcher.get(cdx.query(archive, url, since=start, until=until, resume_key=resume_key,
                                              limit=min(page_size, limit)), content_types=CDX_TYPES)
        page = cdx.parse(fetched.body)
        for capture in page.captures:
            if after is None or capture.timestamp > after:
                found.setdefault(capture.timestamp, capture)
        resume_key = page.resume_key
        if resume_key is None or len(found) >= limit:
            break
    return [found[timestamp] for timestamp in sorted(found)][:limit]


async def body(fetcher: Fetcher, archive: str, capture: Capture, content_types: tuple[str, ...]) -> Fetched:
    """The capture's body as the archive fetched it."""
    return await fetcher.get(cdx.raw_capture_url(archive, capture), content_types=content_types)
