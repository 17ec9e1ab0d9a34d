"""The bundled site's archive speaks the Wayback Machine's formats over five dated captures of each profile:
the CDX index as JSON (any `fl=` order) or plain text, filtered, collapsed and paged by resume key, and each
capture's raw body at `/web/<timestamp>id_/<url>`, a near timestamp redirected to the nearest capture."""

from __future__ import annotations

import httpx
import pytest

from ingest.site import wayback
from ingest.site.corpus import SEED_AUTHOR_ID
from ingest.sources.base import Origin
from ingest.sources.scholarfeed.extract import extract
from ingest.webarchive import cdx


def index(site_url: str, **params: str) -> httpx.Response:
    return httpx.get(f"{site_url}/cdx/search/cdx", params=params)


def test_five_captures_listed_as_json_in_the_columns_asked_for(site, site_url):
    answer = index(site_url, url=f"{site_url}/author/1001", output="json", fl="timestamp,digest,original,statuscode")
    header, *rows = answer.json()
    assert header == ["timestamp", "digest", "original", "statuscode"]
    page = cdx.parse(answer.content)
    captures = wayback.history(site.corpus, 1001)
    assert [c.timestamp for c in page.captures] == [c.timestamp for c in captures]
    assert len(captures) == wayback.CAPTURES and page.resume_key is None
    assert {c.original for c in page.captures} == {f"{site_url}/author/1001"}


def test_plain_text_gives_the_default_columns(site, site_url):
    answer = index(site_url, url=f"{site_url}/author/1002")
    assert answer.headers["content-type"].startswith("text/plain") and len(answer.text.split("\n")[0].split(" ")) == 7
    assert len(cdx.parse(answer.text).captures) == wayback.CAPTURES


def test_limited_pages_carry_a_resume_key_that_leads_through_every_capture_once(site, site_url):
    seen, key = [], None
    for _ in range(5):
        params = {"url": f"{site_url}/author/1003", "output": "json", "limit": "2", "showResumeKey": "true"}
        page = cdx.parse(index(site_url, **params, **({"resumeKey": key} if key else {})).content)
        seen += [c.timestamp for c in page.captures]
        key = page.resume_key
        if key is None:
            break
    assert seen == [c.timestamp for c in wayback.history(site.corpus, 1003)]


def test_from_to_filter_and_collapse_select_as_the_real_index_does(site, site_url):
    url = f"{site_url}/author/1001"
    assert [c.timestamp[:4] for c in cdx.parse(index(site_url, url=url, **{"from": "2022", "to": "2023"}).text)
            .captures] == ["2022", "2023"]
    assert cdx.parse(index(site_url, url=url, filter="!statuscode:200").text).captures == []
    assert len(cdx.parse(index(site_url, url=url, collapse="digest").text).captures) == wayback.CAPTURES  # bodies differ


def test_each_capture_shows_the_profile_as_it_was(site, site_url):
    captures = wayback.history(site.corpus, 1001)
    read = []
    for capture in captures:
        answer = httpx.get(f"{site_url}/web/{capture.timestamp}id_/{site_url}/author/1001")
        assert answer.status_code == 200 and answer.content == capture.body and "memento-datetime" in answer.headers
        read.append(extract(answer.content, Origin.of(f"{site_url}/author/1001", answer.content, capture.captured_at)))
    assert read[0].author == read[1].author and read[0].papers == read[1].papers  # the body differs, not the page
    assert read[1].author.citations < read[2].author.citations < read[4].author.citations
    assert read[4].author.citations < site.corpus.author_record(1001).citations  # the live page is newer still
    assert len(read[0].papers) <= len(read[2].papers) <= len(read[4].papers)


def test_a_near_timestamp_redirects_to_the_nearest_capture(site, site_url):
    nearest = wayback.history(site.corpus, 1001)[2]
    answer = httpx.get(f"{site_url}/web/{nearest.timestamp[:6]}id_/{site_url}/author/1001")
    assert answer.status_code == 302
    assert answer.headers["location"] == f"/web/{nearest.timestamp}id_/{site_url}/author/1001"


@pytest.mark.parametrize("author", [SEED_AUTHOR_ID, 999_999])
def test_a_profile_without_captures_has_an_empty_index_and_no_body(site_url, author):
    assert index(site_url, url=f"{site_url}/author/{author}", output="json").json() == []
    assert httpx.get(f"{site_url}/web/2024id_/{site_url}/author/{author}").status_code == 404
