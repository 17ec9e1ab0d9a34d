"""Scholar Feed (scholarfeed.org): author pages listing arXiv papers, paginated by a next link."""

from __future__ import annotations

from ingest.http.politeness import Politeness
from ingest.records import Observation
from ingest.sources.base import Origin, ProfileRef, Source
from ingest.sources.scholarfeed import extract as _extract
from ingest.sources.scholarfeed.fields import NAME, AuthorFields, Metrics, PaperFields


class ScholarFeed(Source):
    name = NAME
    parser_version = f"{NAME}/2"
    content_types = ("text/html",)
    paging = "next_link"
    hosts = ("scholarfeed.org", "www.scholarfeed.org")
    politeness = Politeness(interval_s=1.0, concurrency=2, jitter_s=0.5)
    author_metrics = Metrics
    author_fields = AuthorFields
    paper_fields = PaperFields

    def profile(self, url: str) -> ProfileRef | None:
        return _extract.author_ref(url)

    def extract(self, body: bytes, origin: Origin) -> Observation:
        return _extract.extract(body, origin)


SOURCE = ScholarFeed()
