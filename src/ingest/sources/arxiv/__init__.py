"""arXiv's API (export.arxiv.org/api/query): no profiles of its own, it completes papers that carry an arXiv id
(full author lists, abstracts, categories, v1 dates, DOIs) in `id_list` batches (`ingest.pipeline.enrich`)."""

from __future__ import annotations

from ingest.http.politeness import Politeness
from ingest.records import Observation
from ingest.sources.arxiv import extract as _extract
from ingest.sources.arxiv.fields import NAME, AuthorFields, Metrics, PaperFields
from ingest.sources.base import Origin, ProfileRef, Source


class Arxiv(Source):
    name = NAME
    parser_version = f"{NAME}/1"
    content_types = ("application/atom+xml", "application/xml", "text/xml", "text/html")  # HTML: see extract
    paging = "page_number"  # start and max_results
    hosts = ("export.arxiv.org", "arxiv.org")
    # arXiv asks API clients for one request every three seconds, one at a time.
    politeness = Politeness(interval_s=3.0, concurrency=1, jitter_s=0.5)
    author_metrics = Metrics
    author_fields = AuthorFields
    paper_fields = PaperFields

    def profile(self, url: str) -> ProfileRef | None:
        return None  # no author pages: arXiv's papers are read by id (enrichment), not walked as a profile

    def extract(self, body: bytes, origin: Origin) -> Observation:
        return _extract.extract(body, origin)


SOURCE = Arxiv()
