"""The bundled site's past: a Wayback-like archive of its profiles, read through a real server as the real one is read,
by our own CDX client parser and the Scholar Feed extractor."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import httpx
import pytest

from ingest.records import Observation
from ingest.site import wayback
from ingest.site.corpus import EPOCH, SEED_AUTHOR_ID
from ingest.webarchive.cdx import DEFAULT_FIELDS, parse, query, raw_capture_url
from tests.conftest import read_page

AUTHOR = 1001


@pytest.fixture
def client(site_url) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site_url) as client:
        yield client


@pytest.fixture
def captures(site) -> list[wayback.CaptureView]:
    return wayback.history(site.corpus, AUTHOR)


def cdx(client: httpx.Client, url: str, **params: str) -> httpx.Response:
    response = client.get("/cdx/search/cdx", params={"url": url, **params})
    assert response.status_code == 200
    return response


def page_url(site_url: str, author_id: int = AUTHOR) -> str:
    return f"{site_url}/author/{author_id}"


def metrics(observation: Observation) -> tuple:
    a = observation.author
    return a.h_index, a.citations, a.paper_count, a.source_metrics, [p.arxiv_id for p in observation.papers]


# -- the captures ---------------------------------------------------------------------------------------

def test_every_generated_author_has_five_captures_a_year_apart_before_the_epoch_and_the_seed_none(site):
    for author_id in site.corpus.authors:
        views = wayback.history(site.corpus, author_id)
        assert len(views) == wayback.CAPTURES
        assert [v.captured_at.year for v in views] == [2021, 2022, 2023, 2024, 2025]
        assert all(v.captured_at < EPOCH and v.captured_at.strftime("%Y%m%d%H%M%S") == v.timestamp for v in views)
    assert wayback.history(site.corpus, SEED_AUTHOR_ID) == wayback.history(site.corpus, 999_999) == []
    assert len({wayback.history(site.corpus, a)[0].timestamp for a in site.corpus.authors}) == len(site.corpus.authors)


def test_papers_appear_and_metrics_rise_stage_by_stage_but_every_body_differs(site):
    for author_id in site.corpus.authors:
        views = wayback.history(site.corpus, author_id)
        live, listing = site.corpus.author_record(author_id), site.corpus.authors[author_id].papers
        assert [v.stage for v in views] == [0, 0, 1, 1, 2]
        assert views[0].author == views[1].author and views[2].author == views[3].author
        counts = [v.author.paper_count for v in views]
        assert counts == sorted(counts) and 1 <= counts[0] and (counts[-1] < len(listing) or len(listing) == 1)
        assert [v.author.citations for v in views[::2]] == sorted({v.author.citations for v in views})
        assert views[-1].author.citations < live.citations
        assert all(v.papers == listing[len(listing) - v.author.paper_count:][: site.corpus.page_size] for v in views)
        assert len({v.body for v in views}) == wayback.CAPTURES


def test_each_capture_reads_as_the_records_it_shows(site, captures):
    url = page_url("http://127.0.0.1:8740")
    read = [read_page(v.body, url, v.captured_at) for v in captures]
    live = read_page(site.corpus.render(AUTHOR, 1), url)
    assert metrics(read[0]) == metrics(read[1]) and metrics(read[2]) == metrics(read[3])
    assert metrics(read[1]) != metrics(read[2]) and metrics(read[3]) != metrics(read[4]) != metrics(live)
    for view, observation in zip(captures, read):
        assert (observation.author.h_index, observation.author.citations, observation.author.paper_count) == (
            view.author.h_index, view.author.citations, view.author.paper_count)
        assert [p.arxiv_id for p in observation.papers] == [site.corpus.paper_record(i).arxiv_id for i in view.papers]


def test_a_long_listings_capture_shows_its_first_page_and_the_next_link(site):
    author_id = next(a for a in site.corpus.authors if len(site.corpus.authors[a].papers) > 2 * site.corpus.page_size)
    first = wayback.history(site.corpus, author_id)[0]
    observation = read_page(first.body, page_url("http://127.0.0.1:8740", author_id))
    assert len(observation.papers) == site.corpus.page_size
    assert observation.next_url == f"http://127.0.0.1:8740/author/{author_id}?page=2"


# -- the CDX index ----------------------------------------------------------------------------------------

def test_a_json_answer_has_the_columns_asked_for_in_that_order(client, site_url, captures):
    response = cdx(client, page_url(site_url), output="json", fl="timestamp,digest,original,statuscode")
    assert response.headers["content-type"] == "application/json"
    lines = response.text.splitlines()
    assert lines[0] == '[["timestamp","digest","original","statuscode"],'  # compact, a row a line, as the real one
    assert lines[1].startswith(f'["{captures[0].timestamp}", "{captures[0].digest}", ')
    page = parse(response.content)
    assert [c.timestamp for c in page.captures] == [v.timestamp for v in captures]
    assert {(c.original, c.status) for c in page.captures} == {(page_url(site_url), 200)} and page.resume_key is None


def test_a_plain_text_answer_has_the_seven_default_columns_keyed_by_surt(client, site_url, captures):
    lines = cdx(client, page_url(site_url)).text.splitlines()
    port = urlsplit(site_url).port
    assert lines[0].split() == [f"1,0,0,127:{port})/author/{AUTHOR}", captures[0].timestamp, page_url(site_url),
                                "text/html", "200", captures[0].digest, str(len(captures[0].body))]
    page = parse(cdx(client, page_url(site_url)).content, DEFAULT_FIELDS)
    assert [(c.timestamp, c.digest, c.mimetype) for c in page.captures] == [
        (v.timestamp, v.digest, "text/html") for v in captures]


def test_our_clients_own_query_finds_every_capture(client, site_url, captures):
    page = parse(client.get(query(site_url, page_url(site_url))).content)
    assert [c.timestamp for c in page.captures] == [v.timestamp for v in captures] and page.resume_key is None


@pytest.mark.parametrize("output", ["json", None])
def test_a_limited_answer_pages_through_every_capture_by_resume_key(client, site_url, captures, output):
    seen, pages, key = [], 0, None
    while True:
        params = {"limit": "2", "showResumeKey": "true"} | ({"output": output} if output else {})
        page = parse(cdx(client, page_url(site_url), **params, **({"resumeKey": key} if key else {})).content)
        seen += [c.timestamp for c in page.captures]
        pages, key = pages + 1, page.resume_key
        if key is None:
            break
    assert (seen, pages) == ([v.timestamp for v in captures], 3)


def test_a_text_resume_key_follows_a_blank_line_url_encoded(client, site_url, captures):
    text = cdx(client, page_url(site_url), limit="1", showResumeKey="true").text
    port = urlsplit(site_url).port
    assert text.endswith(f"\n\n1%2C0%2C0%2C127%3A{port}%29%2Fauthor%2F{AUTHOR}+{int(captures[0].timestamp) + 1}\n")
    assert "\n\n" not in cdx(client, page_url(site_url), limit="1").text  # no key unless asked for


def test_from_and_to_are_inclusive_timestamp_prefixes(client, site_url, captures):
    page = parse(cdx(client, page_url(site_url), output="json", **{"from": "2022", "to": "2024"}).content)
    assert [c.timestamp for c in page.captures] == [v.timestamp for v in captures[1:4]]
    exact = parse(cdx(client, page_url(site_url), output="json",
                      **{"from": captures[2].timestamp, "to": captures[2].timestamp}).content)
    assert [c.timestamp for c in exact.captures] == [captures[2].timestamp]


def test_filters_and_collapsing_by_digest_keep_every_capture_for_no_two_bodies_are_equal(client, site_url):
    def count(**params: str) -> int:
        return len(parse(cdx(client, page_url(site_url), output="json", **params).content).captures)

    assert count(filter="statuscode:200", collapse="digest") == wayback.CAPTURES
    assert count(filter="!statuscode:200") == count(filter="mimetype:image/.*") == 0
    assert count(collapse="timestamp:2") == 1  # every capture's timestamp starts with "20"


@pytest.mark.parametrize("spelling", ["https://{host}/author/{a}", "http://{host}/author/{a}/", "{host}/author/{a}",
                                      "http://127.0.0.1:80/author/{a}", "http://example.org/author/{a}"])
def test_any_spelling_of_a_first_pages_url_finds_its_captures(client, site_url, spelling):
    url = spelling.format(host=urlsplit(site_url).netloc, a=AUTHOR)
    assert len(parse(cdx(client, url, output="json").content).captures) == wayback.CAPTURES


@pytest.mark.parametrize("url", [f"/author/{SEED_AUTHOR_ID}", "/author/999999", f"/author/{AUTHOR}?page=2",
                                 "/sitemap.xml"])
def test_the_seed_author_unknown_authors_and_other_pages_have_an_empty_index(client, site_url, url):
    assert cdx(client, site_url + url, output="json").text == "[]\n"
    assert cdx(client, site_url + url).text == ""


def test_a_query_the_index_cannot_read_is_a_bad_request(client):
    assert client.get("/cdx/search/cdx", params={"output": "json"}).status_code == 400
    assert client.get("/cdx/search/cdx", params={"url": "x", "fl": "timestamp,colour"}).status_code == 400
    for bad in ({"limit": "many"}, {"limit": "0"}, {"filter": "statuscode:("}, {"collapse": "digest:x"}):
        assert client.get("/cdx/search/cdx", params={"url": "x", **bad}).status_code == 400
    assert client.get("/cdx/other").status_code == 404


# -- raw captures -----------------------------------------------------------------------------------------

def test_an_exact_timestamp_serves_the_body_as_captured(client, site_url, captures):
    page = parse(cdx(client, page_url(site_url), output="json").content)
    for capture, view in zip(page.captures, captures, strict=True):
        response = client.get(raw_capture_url(site_url, capture))
        assert response.status_code == 200 and response.content == view.body
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert parsedate_to_datetime(response.headers["memento-datetime"]) == view.captured_at


def test_a_captures_extraction_shows_that_times_metrics(client, site_url, captures):
    def read(timestamp: str) -> tuple:
        body = client.get(f"/web/{timestamp}id_/{page_url(site_url)}").content
        return metrics(read_page(body, page_url(site_url)))

    shown = [read(v.timestamp) for v in captures]
    assert shown[0] == shown[1] != shown[2]
    assert shown[4] != metrics(read_page(client.get(f"/author/{AUTHOR}").content, page_url(site_url)))
    assert shown[0][:3] == (captures[0].author.h_index, captures[0].author.citations, captures[0].author.paper_count)


def test_another_timestamp_redirects_to_the_nearest_capture(client, site_url, captures):
    def location(timestamp: str, url: str = page_url(site_url)) -> str:
        response = client.get(f"/web/{timestamp}id_/{url}")
        assert response.status_code == 302
        return response.headers["location"]

    later = datetime.strptime(captures[2].timestamp, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc).timestamp() + 1
    one_second_on = datetime.fromtimestamp(later, timezone.utc).strftime("%Y%m%d%H%M%S")
    assert location(one_second_on) == f"/web/{captures[2].timestamp}id_/{page_url(site_url)}"
    assert location("2019") == f"/web/{captures[0].timestamp}id_/{page_url(site_url)}"
    assert location("2030") == f"/web/{captures[-1].timestamp}id_/{page_url(site_url)}"
    assert location(captures[2].timestamp[:6]) == f"/web/{captures[2].timestamp}id_/{page_url(site_url)}"
    assert location(one_second_on, page_url(site_url).replace("http://", "http:/")).startswith(
        f"/web/{captures[2].timestamp}id_/")
    followed = client.get(f"/web/{one_second_on}id_/{page_url(site_url)}", follow_redirects=True)
    assert followed.content == captures[2].body


def test_a_collapsed_scheme_in_the_path_is_the_same_url(client, site_url, captures):
    response = client.get(f"/web/{captures[0].timestamp}id_/{page_url(site_url).replace('http://', 'http:/')}")
    assert response.status_code == 200 and response.content == captures[0].body


@pytest.mark.parametrize("path", [f"/author/{SEED_AUTHOR_ID}", "/author/999999", f"/author/{AUTHOR}?page=2"])
def test_what_the_archive_never_captured_is_not_found(client, site_url, captures, path):
    assert client.get(f"/web/{captures[0].timestamp}id_/{site_url}{path}").status_code == 404
    assert client.get(f"/web/2023id_/{site_url}{path}").status_code == 404


def test_robots_rules_leave_the_archive_open(client, site_url):
    robots = RobotFileParser()
    robots.parse(client.get("/robots.txt").text.splitlines())
    assert robots.can_fetch("ingest", f"{site_url}/cdx/search/cdx?url=x")
    assert robots.can_fetch("ingest", f"{site_url}/web/2023id_/{site_url}/author/{AUTHOR}")
