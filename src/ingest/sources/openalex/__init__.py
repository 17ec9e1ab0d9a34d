"""OpenAlex (api.openalex.org): an author object, then their works, cursor-paged, from the open scholarly API."""

from __future__ import annotations

from ingest.config import Settings
from ingest.http.politeness import Politeness
from ingest.records import Observation
from ingest.sources.base import Origin, ProfileRef, Source
from ingest.sources.openalex import extract as _extract
from ingest.sources.openalex import urls
from ingest.sources.openalex.fields import NAME, AuthorFields, Metrics, PaperFields


class OpenAlex(Source):
    name = NAME
    parser_version = f"{NAME}/1"
    # HTML is accepted so that the rate-limit page reaches `extract`, which reports it as a block.
    content_types = ("application/json", "text/html")
    paging = "cursor"
    hosts = urls.HOSTS
    # OpenAlex allows 10 requests a second; staying well under it leaves room for the user's other clients.
    politeness = Politeness(interval_s=0.2, concurrency=2, jitter_s=0.05)
    author_metrics = Metrics
    author_fields = AuthorFields
    paper_fields = PaperFields

    def __init__(self) -> None:
        self.params: dict[str, str] = {}

    def configure(self, settings: Settings) -> None:
        o = settings.openalex
        self.params = {name: value for name, value in (
            ("mailto", o.mailto), ("api_key", o.api_key.get_secret_value() if o.api_key else None)) if value}

    def request_params(self) -> dict[str, str]:
        return self.params

    def profile(self, url: str) -> ProfileRef | None:
        return urls.profile_ref(url)

    def extract(self, body: bytes, origin: Origin) -> Observation:
        return _extract.extract(body, origin)


SOURCE = OpenAlex()
