"""The registry: sources are found by looking, a URL is claimed by its source, hosts get their source's manners."""

from __future__ import annotations

import sys

import pytest

from ingest.config import load_settings
from ingest.http.politeness import Politeness
from ingest.sources import ProfileRef, Source, UnclaimedURL, UnknownSource, all_sources, get, profile, registry
from ingest.sources.arxiv import SOURCE as ARXIV
from ingest.sources.gscholar import SOURCE as GSCHOLAR
from ingest.sources.openalex import SOURCE as OPENALEX
from ingest.sources.scholarfeed import SOURCE, ScholarFeed

A_SOURCE = '''
from pydantic import BaseModel

from ingest.http.politeness import Politeness
from ingest.sources.base import ProfileRef, Source


class Nothing(BaseModel):
    pass


class Example(Source):
    name = "example"
    parser_version = "example/1"
    content_types = ("application/json",)
    paging = "cursor"
    hosts = ("api.example.org",)
    politeness = Politeness(interval_s=3.0, concurrency=1)
    author_metrics = author_fields = paper_fields = Nothing

    def profile(self, url):
        prefix = "https://api.example.org/people/"
        return ProfileRef(self.name, url[len(prefix):], url) if url.startswith(prefix) else None

    def extract(self, body, origin):
        raise NotImplementedError


SOURCE = Example()
'''


def test_the_bundled_sources():
    assert all_sources() == {"arxiv": ARXIV, "gscholar": GSCHOLAR, "openalex": OPENALEX, "scholarfeed": SOURCE} and get("scholarfeed") is SOURCE
    assert isinstance(SOURCE, Source) and SOURCE.parser_version.startswith("scholarfeed/")


def test_a_source_is_a_folder_the_registry_finds_by_looking(tmp_path, monkeypatch):
    package = tmp_path / "example"
    package.mkdir()
    (package / "__init__.py").write_text(A_SOURCE)
    import ingest.sources

    monkeypatch.setattr(ingest.sources, "__path__", [*ingest.sources.__path__, str(tmp_path)])
    registry.all_sources.cache_clear()
    try:
        assert list(all_sources()) == ["arxiv", "example", "gscholar", "openalex", "scholarfeed"]
        assert profile("https://api.example.org/people/42") == ProfileRef(
            "example", "42", "https://api.example.org/people/42")
        assert registry.politeness(load_settings(None).http)("api.example.org") == Politeness(3.0, 1)
    finally:
        registry.all_sources.cache_clear()
        sys.modules.pop("ingest.sources.example", None)


def test_a_url_no_source_claims_is_an_error_naming_it():
    with pytest.raises(UnclaimedURL, match=r"http://127\.0\.0\.1/about is not a profile of any source \(arxiv, gscholar, openalex, scholarfeed\)"):
        profile("http://127.0.0.1/about")
    with pytest.raises(UnclaimedURL, match="is not a scholarfeed profile"):
        profile("https://scholar.google.com/citations?user=abc", "scholarfeed")


def test_an_unknown_source_names_the_sources_there_are():
    with pytest.raises(UnknownSource, match="no source named 'crossref'; sources: arxiv, gscholar, openalex, scholarfeed"):
        get("crossref")


def test_a_sources_public_hosts_get_its_politeness_others_the_http_defaults_and_config_wins():
    http = load_settings(None, http={"min_interval_s": 0.25, "hosts": {"www.scholarfeed.org": {"jitter_s": 2.0}}}).http
    manners = registry.politeness(http)
    assert manners("scholarfeed.org") == ScholarFeed.politeness
    assert manners("www.scholarfeed.org") == Politeness(ScholarFeed.politeness.interval_s,
                                                        ScholarFeed.politeness.concurrency, 2.0)
    assert manners("127.0.0.1") == Politeness(0.25, http.per_host_concurrency, 0.0)  # the bundled site
