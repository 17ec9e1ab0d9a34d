"""The Google Scholar source on real saved profiles (conformance) and on our own fixtures: another UI language,
the older markup, rows-only answers, block pages, truncated author lists."""

from __future__ import annotations

import json

import pytest

from ingest.sources import BlockedPage, ExtractionError, LayoutChanged, Origin, registry
from ingest.sources.gscholar import SOURCE, urls
from ingest.sources.gscholar.extract import parse_count
from tests.cli.runner import ingest
from tests.conftest import FIXTURES, SEEN

SIMON = FIXTURES / "gscholar_profile_full_herbert_simon_en.html"
CAMPITELLI = FIXTURES / "gscholar_profile_full_campitelli_en.html"
SIMON_URL = "https://scholar.google.ca/citations?hl=en&user=tk2qT34AAAAJ"


def read(path, url: str = "file:///saved.html"):
    body = path.read_bytes()
    return SOURCE.extract(body, Origin.of(url, body, SEEN))


def paper(page, i: int) -> tuple:
    p = page.papers[i]
    own = p.source_fields["gscholar"]
    return p.title, p.authors, p.authors_truncated, own["venue"], p.year, own["cited_by"], own["source_id"]


def test_herbert_simon_real_page():
    page = read(SIMON)
    a = page.author
    assert (page.source_id, a.name, a.profile_url) == (
        "tk2qT34AAAAJ", "Herbert A Simon", "https://scholar.google.com/citations?user=tk2qT34AAAAJ&hl=en&pagesize=100")
    assert a.source_metrics == {"citations_all": 435223, "citations_since": 81009, "h_index_all": 184,
                                "h_index_since": 89, "i10_index_all": 559, "i10_index_since": 306, "since_year": 2018}
    assert (a.citations, a.h_index) == (435223, 184)
    chart = a.source_fields["citations_per_year"]
    assert (len(chart), chart["1984"], chart["2013"], chart["2022"], chart["2023"]) == (40, 2412, 19182, 13581, 710)
    assert (a.source_fields["affiliation"], a.source_fields["email_domain"], a.source_fields["homepage"]) == (
        "Carnegie Mellon", "usability.ws", "https://en.wikipedia.org/wiki/Herbert_A._Simon")
    assert len(page.papers) == 100 and page.first_position == 1
    assert paper(page, 0) == ("Administrative behavior, a story of decision processes in business organization",
                              ["HA Simon"], False,
                              "London, Macmillan (1951).“A Formal Theory of the Employment Relationship\xa0…",
                              1947, 39077, "tk2qT34AAAAJ:kz9GbA2Ns4gC")
    assert paper(page, 2) == ("Les organisations: 2e ed", ["JG March", "HA Simon"], False, "Dunod", 1979, 36342,
                              "tk2qT34AAAAJ:8RAEygVn5_EC")
    assert paper(page, 99)[4:6] == (1959, 1234)


def test_show_more_gives_the_cstart_walk_from_the_pages_own_address():
    page = read(SIMON, SIMON_URL)
    assert page.next_url == ("https://scholar.google.ca/citations?hl=en&user=tk2qT34AAAAJ&cstart=100&pagesize=100")


def test_campitelli_real_page_coauthors_interests_truncated_authors():
    page = read(CAMPITELLI)
    a = page.author
    assert (a.name, a.source_metrics["citations_all"], a.source_metrics["h_index_since"]) == (
        "Guillermo Campitelli", 3568, 22)
    assert a.source_fields["interests"] == ["Expertise", "Judgment", "Decision Making", "Bayesian inference"]
    assert a.source_fields["coauthors"][0] == {"name": "Fernand Gobet", "user": "jeJqwKsAAAAJ"}
    assert a.source_fields["citations_per_year"]["2022"] == 409
    assert len(page.papers) == 20
    cut = next(p for p in page.papers if p.authors_truncated)
    assert cut.authors == ["AP Burgoyne", "G Sala", "F Gobet", "BN Macnamara", "G Campitelli"]


def test_second_ui_language_gives_the_same_fields():
    page = read(FIXTURES / "gscholar-own-de.html")
    a = page.author
    assert (page.source_id, a.name, a.source_metrics["since_year"]) == ("gsDeutsch0AJ", "Eun-ji Park", 2021)
    assert a.source_fields["email_domain"] == "bundled.example"
    assert "2015" not in a.source_fields["citations_per_year"]  # a year without a bar shifts nothing
    assert len(page.papers) == 12 and any(p.source_fields["gscholar"]["cited_by"] is None for p in page.papers)
    assert any(p.year is None for p in page.papers)


def test_older_markup_href_rows_no_later_classes():
    page = read(FIXTURES / "gscholar-own-old.html")
    assert page.author.name == "Ada Lovell" and len(page.papers) == 8
    assert all(p.source_fields["gscholar"]["source_id"].startswith("gsOldLayoAJ:") for p in page.papers)
    assert all(p.source_fields["gscholar"]["cited_by"] is not None for p in page.papers)


def test_rows_only_answer_is_parsed_in_table_context():
    url = "http://127.0.0.1:1/citations?user=gsManyRowsAJ&hl=en&cstart=100&pagesize=100"
    page = read(FIXTURES / "gscholar-own-rows.html", url)
    assert (page.author, page.source_id, len(page.papers), page.first_position, page.next_url) == (
        None, "gsManyRowsAJ", 30, 101, None)


def test_robots_limited_first_page_points_at_a_cstart_page():
    page = read(FIXTURES / "gscholar-own-many.html", "http://127.0.0.1:1/citations?user=gsManyRowsAJ&pagesize=100")
    assert len(page.papers) == 100
    assert page.next_url == "http://127.0.0.1:1/citations?user=gsManyRowsAJ&cstart=100&pagesize=100"


@pytest.mark.parametrize("name", ["gscholar-own-captcha.html", "gscholar-own-consent.html"])
def test_block_pages_are_blocked_not_empty(name):
    with pytest.raises(BlockedPage) as excinfo:
        read(FIXTURES / name)
    assert excinfo.value.reason == "blocked"


@pytest.mark.parametrize("cut, missing", [
    ('id="gsc_rsb_st"', "#gsc_rsb_st"), ('id="gsc_prf_in"', "#gsc_prf_in"), ('id="gsc_a_t"', "#gsc_a_t"),
])
def test_a_missing_element_is_a_layout_error_naming_it(cut, missing):
    body = SIMON.read_bytes().replace(cut.encode(), b'id="renamed"')
    with pytest.raises(LayoutChanged) as excinfo:
        SOURCE.extract(body, Origin.of("file:///x", body, SEEN))
    assert missing in str(excinfo.value)


def test_counts_with_separators_and_empty_cells():
    assert [parse_count(t) for t in ("435,223", "435.223", "435\u202f223", "", " 7 ")] == [435223] * 3 + [None, 7]
    with pytest.raises(ExtractionError):
        parse_count("12a")


@pytest.mark.parametrize("url", [
    "https://scholar.google.com/citations?user=tk2qT34AAAAJ",
    "https://scholar.google.de/citations?hl=de&user=tk2qT34AAAAJ&view_op=list_works",
    "http://scholar.google.co.uk/citations?user=tk2qT34AAAAJ&hl=fr&cstart=100&pagesize=100",
])
def test_identity_is_the_user_on_any_scholar_host_and_language(url):
    ref = registry.profile(url)
    assert (ref.source, ref.source_id, ref.url) == (
        "gscholar", "tk2qT34AAAAJ", "https://scholar.google.com/citations?user=tk2qT34AAAAJ&hl=en&pagesize=100")


def test_canonical_url_is_configurable():
    ref = urls.profile_ref("https://scholar.google.com/citations?user=abc", urls.Canonical("scholar.google.de", "de", 50))
    assert ref.url == "https://scholar.google.de/citations?user=abc&hl=de&pagesize=50"
    assert urls.profile_ref("https://scholar.google.com/citations?view_op=view_citation&user=abc", urls.Canonical()) \
        is None


@pytest.mark.parametrize("url", ["https://scholar.google.com/sorry/index?continue=x",
                                 "https://consent.google.com/ml?continue=x",
                                 "https://accounts.google.com/ServiceLogin?continue=x"])
def test_block_urls(url):
    assert SOURCE.is_block_url(url)


def test_ingest_extract_json_shape(tmp_path):
    done = ingest("extract", str(SIMON), "--source", "gscholar", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    metrics = shown["author"]["metrics"]
    assert {k: metrics[k] for k in ("citations_all", "citations_since", "h_index_all", "h_index_since",
                                    "i10_index_all", "i10_index_since", "since_year")} == {
        "citations_all": 435223, "citations_since": 81009, "h_index_all": 184, "h_index_since": 89,
        "i10_index_all": 559, "i10_index_since": 306, "since_year": 2018}
    assert shown["author"]["name"] == "Herbert A Simon" and shown["author"]["citations_per_year"]["1984"] == 2412
    first = shown["papers"][0]
    assert {k: first[k] for k in ("title", "authors", "authors_truncated", "venue", "year", "cited_by", "source_id")} \
        == {"title": "Administrative behavior, a story of decision processes in business organization",
            "authors": ["HA Simon"], "authors_truncated": False,
            "venue": "London, Macmillan (1951).“A Formal Theory of the Employment Relationship\xa0…",
            "year": 1947, "cited_by": 39077, "source_id": "tk2qT34AAAAJ:kz9GbA2Ns4gC"}
    rows = ingest("extract", str(FIXTURES / "gscholar-own-rows.html"), "--source", "gscholar", "--url",
                  "https://scholar.google.com/citations?user=gsManyRowsAJ&cstart=100&pagesize=100", cwd=tmp_path)
    assert rows.returncode == 0 and json.loads(rows.stdout)["author"] is None
