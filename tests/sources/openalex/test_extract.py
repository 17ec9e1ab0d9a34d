"""The OpenAlex source on real API answers (an author object, a page-paged works list) and on our own: cursor
pages, ORCID profiles, truncated authorships, arXiv ids, and the HTML page OpenAlex answers when it rate-limits."""

from __future__ import annotations

import json

import orjson
import pytest

from ingest.sources import BlockedPage, ExtractionError, LayoutChanged, Origin, registry
from ingest.sources.openalex import SOURCE
from ingest.sources.openalex.extract import abstract
from tests.cli.runner import ingest
from tests.conftest import FIXTURES, SEEN

AUTHOR = FIXTURES / "openalex_author_A5017898742.json"
WORKS = FIXTURES / "openalex_works_list_author_A5017898742_per_page5.json"
API = "https://api.openalex.org"


def read(body: bytes | dict, url: str = "file:///saved.json"):
    body = orjson.dumps(body) if isinstance(body, dict) else body
    return SOURCE.extract(body, Origin.of(url, body, SEEN))


def works_answer(works: list[dict], **meta) -> dict:
    return {"meta": {"count": 3, "db_response_time_ms": 9, "page": None, "per_page": 200, **meta}, "results": works}


def work(n: int, **fields) -> dict:
    return {"id": f"https://openalex.org/W{n}", "title": f"Work {n}", "publication_year": 2020,
            "authorships": [{"author": {"id": "https://openalex.org/A1", "display_name": "Ada Lovell"}}], **fields}


def test_real_author_object():
    page = read(AUTHOR.read_bytes(), f"{API}/authors/A5017898742")
    a = page.author
    assert (page.source_id, a.name, a.profile_url) == ("A5017898742", "Joseph Mearman", f"{API}/authors/A5017898742")
    assert (a.h_index, a.citations, a.paper_count) == (2, 41, 9)
    assert a.source_metrics == {"i10_index": 2, "two_year_mean_citedness": 0.0, "works_count": 9}
    assert a.source_fields["institutions"] == ["Bangor University"] and a.source_fields["orcid"] is None
    years = a.source_fields["counts_by_year"]
    assert (years["2014"], years["2025"], len(years)) == ({"works": 3, "cited_by": 0}, {"works": 0, "cited_by": 2}, 12)
    assert page.papers == [] and page.next_url == (
        f"{API}/works?filter=author.id:A5017898742&per-page=200&select=id,doi,ids,title,display_name,"
        "publication_year,publication_date,type,authorships,is_authors_truncated,primary_location,locations,"
        "abstract_inverted_index,cited_by_count&cursor=*")


def test_real_works_list_page_paged():
    url = f"{API}/works?filter=author.id:A5017898742&per-page=5"
    page = read(WORKS.read_bytes(), url)
    assert page.author is None and page.source_id is None
    assert (len(page.papers), page.first_position) == (5, 1)
    assert page.next_url == f"{API}/works?filter=author.id:A5017898742&per-page=5&page=2"  # 5 of 9 shown
    first = page.papers[0]
    assert (first.title, first.year, str(first.published_on), first.doi) == (
        "Alternative Representations of 3D-Reconstructed Heritage Data", 2015, "2015-11-16", "10.1145/2795233")
    assert len(first.authors) == 11 and first.authors[7] == "Joseph Mearman" and not first.authors_truncated
    assert first.abstract.startswith("By collecting images of heritage assets from members of the public and")
    own = first.source_fields["openalex"]
    assert (own["openalex_id"], own["cited_by"], own["type"]) == ("W2250748100", 28, "article")
    assert own["author_ids"][7] == "A5017898742"
    preprint = next(p for p in page.papers if p.source_fields["openalex"]["type"] == "preprint")
    assert (preprint.arxiv_id, preprint.doi) == ("2108.04680", "10.48550/arxiv.2108.04680")


def test_the_last_page_of_a_page_paged_list_has_no_next():
    data = json.loads(WORKS.read_bytes())
    data["meta"]["page"] = 2
    page = read(orjson.dumps(data), f"{API}/works?filter=author.id:A5017898742&per-page=5&page=2")
    assert (page.first_position, page.next_url) == (6, None)


def test_cursor_pages_follow_next_cursor_until_null():
    first_url = f"{API}/works?filter=author.id:A1&per-page=200&cursor=*"
    first = read(works_answer([work(1), work(2)], next_cursor="IlsxMDBd"), first_url)
    assert (first.first_position, first.next_url) == (1, f"{API}/works?filter=author.id:A1&per-page=200&cursor=IlsxMDBd")
    later = read(works_answer([work(3)], next_cursor=None), first.next_url)
    assert (later.first_position, later.next_url) == (None, None)  # after the page before; the last
    assert [p.title for p in later.papers] == ["Work 3"]


def test_an_empty_page_ends_a_cursor_walk_even_with_a_cursor():
    page = read(works_answer([], next_cursor="IlsxMDBd"), f"{API}/works?filter=author.id:A1&cursor=IlsxMDBd")
    assert page.next_url is None


def test_profiles_by_id_url_api_url_and_orcid():
    assert SOURCE.profile("https://openalex.org/A5017898742").url == f"{API}/authors/A5017898742"
    assert SOURCE.profile(f"{API}/authors/a5017898742?select=x").source_id == "A5017898742"
    by_orcid = SOURCE.profile(f"{API}/authors/https://orcid.org/0000-0002-1825-0097")
    assert (by_orcid.source_id, by_orcid.url) == ("orcid:0000-0002-1825-0097", f"{API}/authors/orcid:0000-0002-1825-0097")
    assert SOURCE.profile("http://127.0.0.1:8740/authors/A5000000042").url == \
        "http://127.0.0.1:8740/authors/A5000000042"
    for other in ("http://127.0.0.1:8740/A5000000042", f"{API}/works/W1", f"{API}/authors/bob", "ftp://openalex.org/A1"):
        assert SOURCE.profile(other) is None, other
    assert registry.profile("https://openalex.org/A5017898742").source == "openalex"


def test_an_author_asked_for_by_orcid_keeps_that_identity():
    data = json.loads(AUTHOR.read_bytes()) | {"orcid": "https://orcid.org/0000-0002-1825-0097"}
    page = read(orjson.dumps(data), f"{API}/authors/orcid:0000-0002-1825-0097")
    assert page.source_id == page.author.source_id == "orcid:0000-0002-1825-0097"
    assert (page.author.source_fields["openalex_id"], page.author.source_fields["orcid"]) == (
        "A5017898742", "0000-0002-1825-0097")
    assert "author.id:A5017898742" in page.next_url  # works are listed by the OpenAlex id the answer gives


def test_truncated_authorships_arxiv_location_and_untitled_works():
    works = [work(1, is_authors_truncated=True,
                  locations=[{"landing_page_url": "https://arxiv.org/abs/2003.00295v3"}]),
             work(2, title=None, display_name=None)]
    page = read(works_answer(works, next_cursor=None))
    assert [(p.title, p.authors_truncated, p.arxiv_id) for p in page.papers] == [("Work 1", True, "2003.00295")]


def test_abstract_rebuilt_from_the_inverted_index():
    assert abstract({"in": [1, 4], "Deep": [0], "learning": [2], "we": [3], "trust": [5]}) == \
        "Deep in learning we in trust"
    assert abstract(None) is None and abstract({}) is None


def test_html_where_json_was_expected_is_a_block():
    html = b"<!DOCTYPE html><html><head><title>429 Too Many Requests</title></head><body>Slow down</body></html>"
    with pytest.raises(BlockedPage) as caught:
        read(html)
    assert caught.value.reason == "blocked"


@pytest.mark.parametrize("body, error", [(b"{not json", ExtractionError), (b'{"id": "W1"}', LayoutChanged),
                                         (b'[1, 2]', LayoutChanged),
                                         (b'{"id": "https://openalex.org/A1", "display_name": ""}', LayoutChanged)])
def test_malformed_answers_raise_extraction_errors(body, error):
    with pytest.raises(error):
        read(body)


def test_cli_extract_prints_the_pinned_keys(tmp_path):
    author = json.loads(ingest("extract", str(AUTHOR), "--source", "openalex", cwd=tmp_path).stdout)["author"]
    assert {k: author["metrics"][k] for k in ("h_index", "i10_index", "citations", "works_count")} == {
        "h_index": 2, "i10_index": 2, "citations": 41, "works_count": 9}
    assert (author["name"], author["counts_by_year"]["2021"]) == ("Joseph Mearman", {"works": 2, "cited_by": 7})
    papers = json.loads(ingest("extract", str(WORKS), "--source", "openalex", cwd=tmp_path).stdout)["papers"]
    assert {"title", "authors", "year", "doi", "openalex_id", "abstract", "cited_by"} <= set(papers[0])
    assert (papers[0]["openalex_id"], papers[0]["cited_by"], papers[0]["doi"]) == ("W2250748100", 28, "10.1145/2795233")
