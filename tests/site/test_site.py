"""The bundled site: a deterministic corpus, its pages, and the loopback HTTP server that serves them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from email.utils import format_datetime, parsedate_to_datetime

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from ingest.dedupe import normalise_title
from ingest.records import Observation
from ingest.site.corpus import FIRST_GENERATED_ID, SEED_AUTHOR_ID, SEED_PAGE, Corpus
from ingest.site.server import Site
from tests.conftest import read_page as extract

SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
BASE = "http://127.0.0.1:8740"


# -- helpers ---------------------------------------------------------------------------------------

def page_path(author_id: int, page: int = 1) -> str:
    return f"/author/{author_id}" + (f"?page={page}" if page > 1 else "")


def all_pages(corpus: Corpus, author_id: int) -> Iterator[tuple[int, str]]:
    for page in range(1, corpus.page_count(author_id) + 1):
        yield page, corpus.render(author_id, page)


def listed_titles(corpus: Corpus, author_id: int) -> list[str]:
    return [p.title for _, html in all_pages(corpus, author_id) for p in extract(html, BASE + "/author/1").papers]


def seed_titles() -> list[str]:
    return [p.title for p in extract(SEED_PAGE.read_text(encoding="utf-8"), BASE + "/author/1").papers]


def paginated_author(corpus: Corpus) -> int:
    return next(a for a in corpus.authors if corpus.page_count(a) >= 3)


def coauthored_paper(corpus: Corpus) -> int:
    return next(p.index for p in corpus.papers if len(p.corpus_authors) >= 3)


def listing(html: str) -> tuple[str | None, str | None, str | None]:
    """(ol start, rel=prev href, rel=next href) of a page."""
    tree = LexborHTMLParser(html)
    prev, nxt = tree.css_first('a[rel="prev"]'), tree.css_first('a[rel="next"]')
    return (tree.css_first("ol.paper-list").attributes.get("start"),
            prev.attributes.get("href") if prev else None,
            nxt.attributes.get("href") if nxt else None)


def sitemap_locs(xml: bytes) -> list[str]:
    return [loc.text for loc in ET.fromstring(xml).iter(f"{SITEMAP_NS}loc")]


def extracted(response: httpx.Response) -> Observation:
    return extract(response.content, str(response.url))


@pytest.fixture
def client(site_url) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site_url) as client:
        yield client


# -- the corpus ------------------------------------------------------------------------------------

def test_the_same_seed_generates_the_same_pages():
    one, two = Corpus(25, seed=11, page_size=10), Corpus(25, seed=11, page_size=10)
    assert one.author_ids() == two.author_ids()
    for author_id in one.author_ids():
        assert list(all_pages(one, author_id)) == list(all_pages(two, author_id))


def test_a_different_seed_generates_different_pages():
    one, two = Corpus(25, seed=11, page_size=10), Corpus(25, seed=12, page_size=10)
    assert any(one.render(a, 1) != two.render(a, 1) for a in one.authors)


@pytest.mark.parametrize("profiles", [0, 1, 30, 250])
def test_profiles_counts_generated_authors_besides_the_seed_author(profiles):
    corpus = Corpus(profiles, mean_papers=5)
    assert len(corpus.authors) == profiles
    assert corpus.author_ids() == [SEED_AUTHOR_ID, *range(FIRST_GENERATED_ID, FIRST_GENERATED_ID + profiles)]
    locs = sitemap_locs(Site(corpus).sitemap("example.test").encode())
    assert len(locs) == profiles + 1
    assert locs[0] == "http://example.test/author/1"


def test_generated_author_names_are_unique():
    corpus = Corpus(1500, mean_papers=3)
    names = [a.name for a in corpus.authors.values()]
    assert len(set(names)) == len(names)


def test_generated_titles_are_unique_and_never_a_seed_title():
    corpus = Corpus(300, mean_papers=50)  # more papers than title combinations: exercises "Part n"
    titles = [corpus.paper_record(i).title for i in range(len(corpus.papers))]
    assert len(titles) > 7200
    assert len({normalise_title(t) for t in titles}) == len(titles)
    seeds = {normalise_title(t) for t in seed_titles()}
    assert len(seeds) == 11
    assert not seeds & {normalise_title(t) for t in titles}


def test_coauthored_papers_appear_on_every_coauthors_pages(site):
    corpus = site.corpus
    index = coauthored_paper(corpus)
    title = corpus.paper_record(index).title
    coauthors = corpus.papers[index].corpus_authors
    for author_id in coauthors:
        assert listed_titles(corpus, author_id).count(title) == 1
    shown = corpus.paper_record(index).authors
    assert shown == [corpus.authors[a].name for a in coauthors][:3]


def test_most_generated_papers_have_coauthors_in_the_corpus(site):
    shared = [p for p in site.corpus.papers if len(p.corpus_authors) > 1]
    assert len(shared) > len(site.corpus.papers) / 2


def test_a_paper_appears_on_exactly_its_corpus_authors_pages(site):
    corpus = site.corpus
    index = coauthored_paper(corpus)
    title = corpus.paper_record(index).title
    on = {a for a in corpus.authors if title in listed_titles(corpus, a)}
    assert on == set(corpus.papers[index].corpus_authors)


def test_long_lists_are_paginated_with_next_links_and_list_start(site):
    corpus = site.corpus
    author_id = paginated_author(corpus)
    pages = corpus.page_count(author_id)
    size = corpus.page_size
    assert listing(corpus.render(author_id, 1)) == ("1", None, page_path(author_id, 2))
    assert listing(corpus.render(author_id, 2)) == (str(size + 1), page_path(author_id), page_path(author_id, 3))
    assert listing(corpus.render(author_id, pages)) == (
        str((pages - 1) * size + 1), page_path(author_id, pages - 1), None)


def test_pages_hold_at_most_page_size_papers_and_together_the_whole_listing(site):
    corpus = site.corpus
    author_id = paginated_author(corpus)
    counts = [len(extract(html, BASE + "/author/1").papers) for _, html in all_pages(corpus, author_id)]
    assert all(n == corpus.page_size for n in counts[:-1]) and 1 <= counts[-1] <= corpus.page_size
    assert sum(counts) == len(corpus.authors[author_id].papers)


def test_a_short_list_is_one_page_without_pagination_links(site):
    corpus = site.corpus
    author_id = next(a for a in corpus.authors if corpus.page_count(a) == 1)
    assert listing(corpus.render(author_id, 1)) == ("1", None, None)


def test_rendering_a_page_outside_the_listing_raises(site):
    author_id = paginated_author(site.corpus)
    for page in (0, site.corpus.page_count(author_id) + 1):
        with pytest.raises(IndexError):
            site.corpus.render(author_id, page)
    with pytest.raises(IndexError):
        site.corpus.render(SEED_AUTHOR_ID, 2)


# -- render -> extract round trip ------------------------------------------------------------------

def pick_author(corpus: Corpus, which: str) -> int:
    generated = list(corpus.authors)
    return {
        "first": generated[0],
        "last": generated[-1],
        "one page": next(a for a in generated if corpus.page_count(a) == 1),
        "two pages": next(a for a in generated if corpus.page_count(a) == 2),
        "three pages": next(a for a in generated if corpus.page_count(a) == 3),
    }[which]


@pytest.mark.parametrize("which", ["first", "last", "one page", "two pages", "three pages"])
def test_extracting_a_rendered_page_gives_back_the_corpus_records(site, which):
    corpus = site.corpus
    author_id = pick_author(corpus, which)
    first_url = f"{BASE}/author/{author_id}"
    expected_author = corpus.author_record(author_id).model_copy(
        update={"profile_url": first_url, "source_id": str(author_id)})
    listed = corpus.authors[author_id].papers
    for page, html in all_pages(corpus, author_id):
        start = (page - 1) * corpus.page_size
        result = extract(html, BASE + page_path(author_id, page))
        assert result.author == expected_author
        assert result.papers == [corpus.paper_record(i) for i in listed[start:start + corpus.page_size]]
        assert result.first_position == start + 1
        last = page == corpus.page_count(author_id)
        assert result.next_url == (None if last else BASE + page_path(author_id, page + 1))


def test_round_trip_covers_papers_with_code_orgs_and_truncated_bylines():
    corpus = Corpus(20, page_size=1000, mean_papers=15)
    records = [p for a in corpus.authors for p in extract(corpus.render(a, 1), f"{BASE}/author/{a}").papers]
    own = [p.source_fields["scholarfeed"] for p in records]
    assert any(o["has_code"] and o["code_url"] for o in own)
    assert any(o["orgs"] for o in own)
    assert any(p.authors_truncated for p in records) and any(not p.authors_truncated for p in records)
    by_arxiv = {corpus.paper_record(i).arxiv_id: corpus.paper_record(i) for i in range(len(corpus.papers))}
    assert all(by_arxiv[p.arxiv_id] == p for p in records)


# -- served over HTTP ------------------------------------------------------------------------------

def test_sitemap_lists_every_authors_first_page(site, client, site_url):
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/xml"
    locs = sitemap_locs(response.content)
    assert locs == [f"{site_url}/author/{a}" for a in site.corpus.author_ids()]
    assert len(locs) == 31 and f"{site_url}/author/1" in locs


def test_every_sitemap_url_serves_that_authors_first_page(site, client):
    for url in sitemap_locs(client.get("/sitemap.xml").content):
        response = client.get(url)
        assert response.status_code == 200
        page = extracted(response)
        assert page.author.profile_url == url and page.first_position == 1


def test_following_next_links_serves_the_whole_listing(site, client, site_url):
    corpus = site.corpus
    author_id = paginated_author(corpus)
    url, titles, pages = f"{site_url}/author/{author_id}", [], 0
    while url:
        page = extracted(client.get(url))
        titles += [p.title for p in page.papers]
        url, pages = page.next_url, pages + 1
    assert pages == corpus.page_count(author_id)
    assert titles == [corpus.paper_record(i).title for i in corpus.authors[author_id].papers]


def test_pages_are_sent_with_etag_and_last_modified(client):
    response = client.get("/author/1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["etag"].startswith('"') and response.headers["etag"].endswith('"')
    assert parsedate_to_datetime(response.headers["last-modified"]).tzinfo is not None


def test_each_page_of_a_profile_has_its_own_etag(site, client):
    author_id = paginated_author(site.corpus)
    etags = {client.get(page_path(author_id, p)).headers["etag"] for p in (1, 2, 3)}
    assert len(etags) == 3


def test_if_none_match_with_the_current_etag_is_answered_304(client):
    etag = client.get("/author/1001").headers["etag"]
    response = client.get("/author/1001", headers={"If-None-Match": etag})
    assert response.status_code == 304 and response.content == b""
    assert response.headers["etag"] == etag


def test_if_none_match_with_any_listed_etag_is_answered_304(client):
    etag = client.get("/author/1001").headers["etag"]
    response = client.get("/author/1001", headers={"If-None-Match": f'"stale", {etag}'})
    assert response.status_code == 304


def test_if_none_match_with_another_etag_is_answered_200(client):
    response = client.get("/author/1001", headers={"If-None-Match": '"not-the-etag"'})
    assert response.status_code == 200 and b"paper-list" in response.content


def test_if_modified_since_the_last_modification_is_answered_304(client):
    modified = client.get("/author/1001").headers["last-modified"]
    response = client.get("/author/1001", headers={"If-Modified-Since": modified})
    assert response.status_code == 304 and response.content == b""


def test_if_modified_since_a_later_time_is_answered_304(client):
    modified = parsedate_to_datetime(client.get("/author/1001").headers["last-modified"])
    later = format_datetime(modified.replace(year=modified.year + 1), usegmt=True)
    assert client.get("/author/1001", headers={"If-Modified-Since": later}).status_code == 304


def test_if_modified_since_an_earlier_time_is_answered_200(client):
    modified = parsedate_to_datetime(client.get("/author/1001").headers["last-modified"])
    earlier = format_datetime(modified.replace(year=modified.year - 1), usegmt=True)
    assert client.get("/author/1001", headers={"If-Modified-Since": earlier}).status_code == 200


def test_an_unparsable_if_modified_since_is_answered_200(client):
    assert client.get("/author/1001", headers={"If-Modified-Since": "yesterday"}).status_code == 200


def test_if_modified_since_in_asctime_format_is_answered_304(client):
    modified = parsedate_to_datetime(client.get("/author/1001").headers["last-modified"])
    asctime = modified.strftime("%a %b %e %H:%M:%S %Y")  # RFC 9110: recipients MUST accept it
    assert client.get("/author/1001", headers={"If-Modified-Since": asctime}).status_code == 304


def test_if_modified_since_in_rfc850_format_is_answered_304(client):
    modified = parsedate_to_datetime(client.get("/author/1001").headers["last-modified"])
    rfc850 = modified.strftime("%A, %d-%b-%y %H:%M:%S GMT")
    assert client.get("/author/1001", headers={"If-Modified-Since": rfc850}).status_code == 304


def test_if_none_match_takes_precedence_over_if_modified_since(client):
    modified = client.get("/author/1001").headers["last-modified"]
    response = client.get("/author/1001", headers={"If-None-Match": '"stale"', "If-Modified-Since": modified})
    assert response.status_code == 200


def test_without_validators_no_etag_or_last_modified_and_no_304(site, client):
    site.validators = False
    response = client.get("/author/1001")
    assert response.status_code == 200
    assert "etag" not in response.headers and "last-modified" not in response.headers
    again = client.get("/author/1001", headers={"If-None-Match": '"7-1001-0-1"',
                                                "If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"})
    assert again.status_code == 200 and again.content == response.content


@pytest.mark.parametrize("path", [
    "/author/999999",
    "/author/2",
    "/author/1?page=2",
    "/author/1001?page=0",
    "/author/abc",
    "/authors/1001",
    "/",
])
def test_unknown_authors_pages_and_paths_are_404(client, path):
    assert client.get(path).status_code == 404


def test_a_page_past_the_last_is_404(site, client):
    author_id = paginated_author(site.corpus)
    last = site.corpus.page_count(author_id)
    assert client.get(page_path(author_id, last)).status_code == 200
    assert client.get(page_path(author_id, last + 1)).status_code == 404


def test_other_methods_are_refused(client):
    response = client.post("/author/1001")
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"


def test_head_sends_the_headers_without_the_body(client):
    got, head = client.get("/author/1001"), client.head("/author/1001")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == got.headers["etag"]
    assert int(head.headers["content-length"]) == len(got.content)


def test_one_connection_serves_many_requests(client):
    paths = ["/sitemap.xml", "/author/1", "/author/1001", "/author/1001", "/no-such-page", "/author/1002"]
    responses = [client.get(p) for p in paths]
    etag = responses[2].headers["etag"]
    responses.append(client.get("/author/1001", headers={"If-None-Match": etag}))
    responses.append(client.get("/author/1"))
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 404, 200, 304, 200]
    assert all(r.headers["connection"] == "keep-alive" for r in responses)
    local_ends = {r.extensions["network_stream"].get_extra_info("client_addr") for r in responses}
    assert len(local_ends) == 1


def test_connection_close_is_honoured(client):
    response = client.get("/author/1", headers={"Connection": "close"})
    assert response.status_code == 200 and response.headers["connection"] == "close"
    assert client.get("/author/1").status_code == 200


def test_the_site_counts_requests_by_path_and_status(site, client):
    client.get("/author/1001")
    client.get("/author/1001")
    client.get("/missing")
    assert site.hits["/author/1001"] == 2 and site.hits["/missing"] == 1
    assert site.statuses[200] == 2 and site.statuses[404] == 1


# -- changes ---------------------------------------------------------------------------------------

def test_bump_citations_changes_the_metrics_and_the_validators_but_not_the_listing(site, client):
    before = client.get("/author/1001")
    site.corpus.bump_citations(1001)
    after = client.get("/author/1001", headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert (parsedate_to_datetime(after.headers["last-modified"])
            > parsedate_to_datetime(before.headers["last-modified"]))
    old, new = extracted(before), extracted(after)
    assert new.author.citations > old.author.citations
    assert new.papers == old.papers
    assert client.get("/author/1001", headers={"If-None-Match": after.headers["etag"]}).status_code == 304


def test_bump_citations_makes_an_old_if_modified_since_stale(site, client):
    before = client.get("/author/1001")
    site.corpus.bump_citations(1001)
    response = client.get("/author/1001", headers={"If-Modified-Since": before.headers["last-modified"]})
    assert response.status_code == 200


def test_a_change_to_one_author_keeps_other_authors_etags(site, client):
    other = client.get("/author/1002").headers["etag"]
    site.corpus.bump_citations(1001)
    assert client.get("/author/1002", headers={"If-None-Match": other}).status_code == 304


def test_add_paper_lists_it_first_for_the_author_and_coauthors(site, client):
    before = {a: client.get(f"/author/{a}") for a in (1001, 1003)}
    index = site.corpus.add_paper(1001, coauthors=(1003,))
    record = site.corpus.paper_record(index)
    assert record.title not in {site.corpus.paper_record(i).title for i in range(index)}
    for author_id, old in before.items():
        new = client.get(f"/author/{author_id}", headers={"If-None-Match": old.headers["etag"]})
        assert new.status_code == 200 and new.headers["etag"] != old.headers["etag"]
        page = extracted(new)
        assert page.papers[0] == record
        assert page.author.paper_count == extracted(old).author.paper_count + 1
    assert record.authors == [site.corpus.authors[1001].name, site.corpus.authors[1003].name]


def test_add_paper_shifts_later_pages_and_changes_their_etags(site, client):
    author_id = paginated_author(site.corpus)
    old = client.get(page_path(author_id, 2))
    site.corpus.add_paper(author_id)
    new = client.get(page_path(author_id, 2), headers={"If-None-Match": old.headers["etag"]})
    assert new.status_code == 200
    assert extracted(new).papers[1:] == extracted(old).papers[:-1]


def test_drop_paper_removes_it_from_that_author_only(site, client):
    corpus = site.corpus
    index = coauthored_paper(corpus)
    author_id, coauthor = corpus.papers[index].corpus_authors[:2]
    title = corpus.paper_record(index).title
    etag = client.get(f"/author/{author_id}").headers["etag"]
    coauthor_etag = client.get(f"/author/{coauthor}").headers["etag"]
    count = len(corpus.authors[author_id].papers)

    corpus.drop_paper(author_id, index)

    response = client.get(f"/author/{author_id}", headers={"If-None-Match": etag})
    assert response.status_code == 200 and response.headers["etag"] != etag
    assert extracted(response).author.paper_count == count - 1
    assert title not in listed_titles(corpus, author_id)
    assert title in listed_titles(corpus, coauthor)
    assert client.get(f"/author/{coauthor}", headers={"If-None-Match": coauthor_etag}).status_code == 304
