"""One page, saved or fetched, read by its source: what `ingest extract` shows when a page does not load as
expected. Nothing is written anywhere."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from ingest.config import HttpSettings
from ingest.http.fetch import Fetcher, host_of
from ingest.records import Observation
from ingest.sources import Origin, Source, registry


class ObserveError(ValueError):
    """The page cannot be read as asked (which source, which file); the message says what to pass."""


def _source(source: str | None, url: str | None) -> Source:
    if source is not None:
        return registry.get(source)
    if url is None:
        raise ObserveError("a saved page does not say its source: pass --source NAME or --url ORIGIN_URL")
    return registry.get(registry.profile(url).source)


async def observe(target: str, *, source: str | None = None, origin_url: str | None = None,
                  http: HttpSettings | None = None) -> Observation:
    """The observation of `target`: a file, or an http(s) URL fetched once (robots.txt and the source's
    content types obeyed). `source` names the source, else the URL's (`origin_url`, or the fetched URL) decides;
    `origin_url` is the page's own address when a file does not say it."""
    if urlsplit(target).scheme in ("http", "https"):
        reader = _source(source, origin_url or target)
        http = http or HttpSettings()
        async with Fetcher(http, frozenset({host_of(target)}), politeness=registry.politeness(http)) as fetcher:
            fetched = await fetcher.get(target, content_types=reader.content_types, params=reader.request_params())
        return reader.extract(fetched.body, Origin(origin_url or fetched.url, fetched.fetched_at,
                                                   fetched.content_sha256))
    path = Path(target)
    if not path.is_file():
        raise ObserveError(f"{target}: no such file (and not an http(s) URL)")
    reader = _source(source, origin_url)
    body = path.read_bytes()
    saved_at = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)  # the best time a file tells
    return reader.extract(body, Origin.of(origin_url or path.absolute().as_uri(), body, saved_at))
