"""Google Scholar profiles (`scholar.google.*/citations?user=ID`): one page of up to 100 rows, later rows behind
a `cstart` walk that Scholar's robots.txt disallows (see the README), and blocks that answer 200."""

from __future__ import annotations

from ingest.config import Settings
from ingest.http.politeness import Politeness
from ingest.records import Observation
from ingest.sources.base import Origin, ProfileRef, Source
from ingest.sources.gscholar import extract as _extract
from ingest.sources.gscholar import urls
from ingest.sources.gscholar.fields import NAME, AuthorFields, Metrics, PaperFields


class GoogleScholar(Source):
    name = NAME
    parser_version = f"{NAME}/1"
    content_types = ("text/html",)
    paging = "page_number"  # cstart, the row offset
    hosts = urls.HOSTS
    # Scholar bans fast clients for days: one request at a time, several seconds apart, never on the beat.
    politeness = Politeness(interval_s=8.0, concurrency=1, jitter_s=4.0)
    author_metrics = Metrics
    author_fields = AuthorFields
    paper_fields = PaperFields
    block_statuses = (429,)  # Scholar's /sorry/ answers 429: retrying only lengthens the ban
    bans_host = True

    def __init__(self) -> None:
        self.canonical = urls.Canonical()

    def configure(self, settings: Settings) -> None:
        g = settings.gscholar
        self.canonical = urls.Canonical(g.host, g.hl, g.pagesize)

    def profile(self, url: str) -> ProfileRef | None:
        return urls.profile_ref(url, self.canonical)

    def is_block_url(self, url: str) -> bool:
        return urls.is_block_url(url)

    def extract(self, body: bytes, origin: Origin) -> Observation:
        return _extract.extract(body, origin, self.canonical)


SOURCE = GoogleScholar()
