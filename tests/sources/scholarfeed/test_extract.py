"""The Scholar Feed source reproduces every field of the seed page exactly, and says what one page shows."""

from __future__ import annotations

import hashlib
import re
from datetime import date

import pytest
from selectolax.lexbor import LexborHTMLParser

from ingest.records import PaperRecord
from ingest.sources import BlockedPage, ExtractionError, LayoutChanged, Origin, ProfileRef, registry
from ingest.sources.scholarfeed import SOURCE
from ingest.sources.scholarfeed.extract import parse_date, parse_int
from ingest.sources.scholarfeed.fields import AuthorFields, Metrics, PaperFields
from tests.conftest import SEED_TEXT_PATH, SEEN, seed_html
from tests.conftest import read_page as extract

URL = "http://127.0.0.1:8740/author/1"

# (category, published_on, has_code, title, shown authors, et al., orgs, arXiv id) in page order.
EXPECTED_PAPERS = [
    ("LG", date(2023, 6, 22), False,
     "The Inductive Bias of Flatness Regularization for Deep Matrix Factorization",
     ["Khashayar Gatmiry", "Zhiyuan Li", "Ching-Yao Chuang"], True, [], "2306.13239"),
    ("CL", date(2025, 7, 7), False,
     "Gemini 2.5: Pushing the Frontier with Advanced Reasoning, Multimodality, Long Context, "
     "and Next Generation Agentic Capabilities",
     ["Gheorghe Comanici", "Eric Bieber", "Mike Schaekermann"], True, ["amazon-science", "baidu"], "2507.06261"),
    ("LG", date(2019, 4, 1), True,
     "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes",
     ["Yang You", "Jing Li", "Sashank Reddi"], True, [], "1904.00962"),
    ("LG", date(2025, 3, 13), False,
     "Structured Preconditioners in Adaptive Optimization: A Unified Analysis",
     ["Shuo Xie", "Tianhao Wang", "Sashank Reddi"], True, [], "2503.10537"),
    ("CL", date(2024, 2, 8), False,
     "Efficient Stagewise Pretraining via Progressive Subnetworks",
     ["Abhishek Panigrahi", "Nikunj Saunshi", "Kaifeng Lyu"], True, ["tsinghua"], "2402.05913"),
    ("LG", date(2022, 1, 28), False,
     "FedLite: A Scalable Approach for Federated Learning on Resource-constrained Clients",
     ["Jianyu Wang", "Hang Qi", "Ankit Singh Rawat"], True, [], "2201.11865"),
    ("LG", date(2021, 5, 12), False,
     "Disentangling Sampling and Labeling Bias for Learning in Large-Output Spaces",
     ["Ankit Singh Rawat", "Aditya Krishna Menon", "Wittawat Jitkrittum"], True, [], "2105.05736"),
    ("LG", date(2020, 11, 17), False,
     "Federated Composite Optimization",
     ["Honglin Yuan", "Manzil Zaheer", "Sashank Reddi"], False, [], "2011.08474"),
    ("LG", date(2020, 2, 29), False,
     "Adaptive Federated Optimization",
     ["Sashank Reddi", "Zachary Charles", "Manzil Zaheer"], True, [], "2003.00295"),
    ("LG", date(2019, 10, 21), False,
     "Learning to Learn by Zeroth-Order Oracle",
     ["Yangjun Ruan", "Yuanhao Xiong", "Sashank Reddi"], True, [], "1910.09464"),
    ("OC", date(2014, 9, 9), False,
     "Large-scale randomized-coordinate descent methods with non-separable linear constraints",
     ["Sashank Reddi", "Ahmed Hefny", "Carlton Downey"], True, [], "1409.2617"),
]


def seed_abstracts() -> list[str]:
    """The seed text's abstracts: each card is category/date/title, byline, abstract."""
    blocks = SEED_TEXT_PATH.read_text().strip().split("\n\n")[3:]
    return blocks[2::3]


def test_seed_html_shows_exactly_the_seed_text():
    body = LexborHTMLParser(seed_html()).body
    visible = re.sub(r"\s+", "", body.text(deep=True))
    assert visible == re.sub(r"\s+", "", SEED_TEXT_PATH.read_text())


def test_author_fields():
    author = extract(seed_html(), URL).author
    assert author.model_dump() == {
        "source": "scholarfeed",
        "source_id": "1",
        "name": "Sashank Reddi",
        "h_index": 117,
        "citations": 6445,
        "paper_count": 11,
        "source_metrics": {"novelty_pct": 60, "ai_score": 45},
        "source_fields": {"category": "LG"},
        "profile_url": URL,
    }


def test_every_field_of_all_eleven_papers():
    page = extract(seed_html(), URL)
    abstracts = seed_abstracts()
    assert len(page.papers) == len(EXPECTED_PAPERS) == len(abstracts) == 11
    for paper, expected, abstract in zip(page.papers, EXPECTED_PAPERS, abstracts):
        category, published_on, has_code, title, authors, truncated, orgs, arxiv_id = expected
        assert paper.model_dump() == {
            "title": title,
            "year": published_on.year,
            "published_on": published_on,
            "authors": authors,
            "authors_truncated": truncated,
            "abstract": abstract,
            "arxiv_id": arxiv_id,
            "doi": None,
            "source_fields": {"scholarfeed": {
                "category": category,
                "has_code": has_code,
                "code_url": "https://github.com/tensorflow/addons" if has_code else None,
                "orgs": orgs,
            }},
            "cited_by": None,  # set when loaded, from the sources that count
            "provenance": {},
        }


def test_the_observation_says_where_and_when_the_page_was_seen():
    body = seed_html().encode()
    page = SOURCE.extract(body, Origin.of(URL + "?page=1", body, SEEN))
    assert (page.source, page.source_id, page.origin_url, page.observed_at) == ("scholarfeed", "1", URL + "?page=1", SEEN)
    assert page.body_sha256 == hashlib.sha256(body).hexdigest()
    assert page.expected_papers == 11  # Scholar Feed's "11 papers" counts its whole listing


def test_the_sources_own_values_are_the_fields_it_declares():
    page = extract(seed_html(), URL)
    assert Metrics.model_validate(page.author.source_metrics).model_dump() == page.author.source_metrics
    assert AuthorFields.model_validate(page.author.source_fields).model_dump() == page.author.source_fields
    for paper in page.papers:
        own = paper.source_fields["scholarfeed"]
        assert PaperFields.model_validate(own).model_dump() == own


def test_a_page_saved_without_its_url_is_known_by_its_canonical_link():
    page = extract(seed_html(), "file:///home/me/saved.html")
    assert (page.source_id, page.author.profile_url) == ("1", "https://scholarfeed.org/author/1")
    assert page.origin_url == "file:///home/me/saved.html"


def test_a_page_with_neither_an_author_url_nor_a_canonical_link_is_malformed():
    html = seed_html().replace('rel="canonical"', 'rel="alternate"')
    with pytest.raises(ExtractionError, match="not an author page URL"):
        extract(html, "file:///home/me/saved.html")


@pytest.mark.parametrize(("url", "first_page"), [
    ("http://127.0.0.1:8740/author/1", "http://127.0.0.1:8740/author/1"),
    ("http://127.0.0.1:8740/author/1?page=3#top", "http://127.0.0.1:8740/author/1"),
    ("https://scholarfeed.org/author/abc/", "https://scholarfeed.org/author/abc"),
    ("https://mirror.example/sf/author/7?page=2", "https://mirror.example/sf/author/7"),
])
def test_the_source_claims_author_urls_as_their_profiles_first_page(url, first_page):
    assert registry.profile(url) == ProfileRef("scholarfeed", first_page.rsplit("/", 1)[1], first_page)
    assert SOURCE.profile(url) == registry.profile(url, "scholarfeed")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8740/sitemap.xml", "https://scholarfeed.org/paper/2306.13239",
                                 "ftp://scholarfeed.org/author/1", "https://scholar.google.com/citations?user=x"])
def test_other_urls_are_no_scholar_feed_profile(url):
    assert SOURCE.profile(url) is None


def test_abstracts_keep_latex_and_symbols_verbatim():
    papers = extract(seed_html(), URL).papers
    assert "also known as \\emph{deep matrix factorization}" in papers[0].abstract
    assert "up to $490\\times$ communication" in papers[5].abstract
    assert "(Reddi et al, 2023; Zhang & He, 2020)" in papers[4].abstract


def test_single_page_profile_has_no_next_page():
    page = extract(seed_html(), URL)
    assert page.next_url is None
    assert page.first_position == 1


def test_next_link_is_resolved_against_the_page_url():
    html = seed_html().replace('</ol>', '</ol><nav class="pagination"><a rel="next" href="/author/1?page=2">Next</a></nav>')
    assert extract(html, URL).next_url == "http://127.0.0.1:8740/author/1?page=2"


def test_profile_url_drops_the_page_query():
    assert extract(seed_html(), URL + "?page=3").author.profile_url == URL


def test_the_first_page_number_and_next_link_are_read_from_a_later_page():
    html = seed_html().replace('start="1"', 'start="101"').replace(
        '</ol>', '</ol><nav class="pagination"><a rel="next" href="/author/1?page=3">Next</a></nav>')
    page = extract(html, URL + "?page=2")
    assert (page.first_position, page.next_url) == (101, URL + "?page=3")


@pytest.mark.parametrize(("text", "value"), [("6,445", 6445), ("60%", 60), ("117", 117), ("1,234,567", 1234567)])
def test_parse_int(text, value):
    assert parse_int(text) == value


@pytest.mark.parametrize(("text", "value"), [("Jun 22, 2023", date(2023, 6, 22)), ("Feb 29, 2020", date(2020, 2, 29)),
                                             ("Sep 9, 2014", date(2014, 9, 9))])
def test_parse_date(text, value):
    assert parse_date(text) == value


@pytest.mark.parametrize("text", ["Feb 30, 2021", "Smarch 3, 2020", "2023-06-22", ""])
def test_parse_date_rejects_non_dates(text):
    with pytest.raises(ExtractionError):
        parse_date(text)


def test_missing_listing_is_reported_as_a_layout_change():
    html = seed_html().replace('class="paper-list"', 'class="papers-grid"')
    with pytest.raises(LayoutChanged) as excinfo:
        extract(html, URL)
    assert excinfo.value.missing == ["listing"]
    assert excinfo.value.reason == "layout_changed"


def test_captcha_page_is_blocked_not_empty():
    html = "<html><body><h1>Our systems have detected unusual traffic</h1><form id=captcha></form></body></html>"
    with pytest.raises(BlockedPage) as excinfo:
        extract(html, URL)
    assert excinfo.value.reason == "blocked"


def test_malformed_metric_is_an_extraction_error():
    html = seed_html().replace("<dd>6,445</dd>", "<dd>lots</dd>")
    with pytest.raises(ExtractionError, match="not a number"):
        extract(html, URL)


def test_renamed_paper_cards_are_a_layout_change_not_an_empty_listing():
    html = seed_html().replace('class="paper-card"', 'class="pub-card"')
    with pytest.raises(LayoutChanged) as excinfo:
        extract(html, URL)
    assert excinfo.value.missing == ["card"]


def test_renamed_metrics_are_a_layout_change_not_missing_numbers():
    html = seed_html().replace('class="metric"', 'class="stat"')
    with pytest.raises(LayoutChanged) as excinfo:
        extract(html, URL)
    assert excinfo.value.missing == ["metric"]


def test_a_profile_listing_no_papers_is_not_a_layout_change():
    html = re.sub(r'(<ol class="paper-list" start="1">).*?(</ol>)', r"\1\2", seed_html(), flags=re.S)
    assert extract(html, URL).papers == []


@pytest.mark.parametrize("arxiv_id", ["hep-th/9901001", "math.OC/0601001", "2306.13239"])
def test_old_and_new_style_arxiv_ids(arxiv_id):
    html = seed_html().replace("https://arxiv.org/abs/2306.13239", f"https://arxiv.org/abs/{arxiv_id}v2")
    assert extract(html, URL).papers[0].arxiv_id == arxiv_id


@pytest.mark.parametrize(("old", "new"), [
    ("<dd>6,445</dd>", "<dd>²</dd>"),  # a digit to str.isdigit, not to int()
    ("<dd>6,445</dd>", "<dd>99999999999</dd>"),  # beyond the database's integer columns
    ('start="1"', 'start="0"'),
    ("</ol>", '</ol><a rel="next" href="http://[::1">Next</a>'),
])
def test_values_the_records_cannot_hold_are_extraction_errors(old, new):
    with pytest.raises(ExtractionError) as excinfo:
        extract(seed_html().replace(old, new, 1), URL)
    assert excinfo.value.reason == "malformed"


def test_an_author_id_longer_than_its_column_is_an_extraction_error():
    with pytest.raises(ExtractionError, match="source_id") as excinfo:
        extract(seed_html(), "http://127.0.0.1:8740/author/" + "9" * 200)  # a ValidationError inside
    assert excinfo.value.reason == "malformed"


def test_papers_equal_the_same_records_built_with_validation():
    for extracted in extract(seed_html(), URL).papers:
        assert extracted == PaperRecord.model_validate(extracted.model_dump())


def test_card_fields_are_found_among_other_classes():
    html = seed_html().replace('class="paper-title"', 'class="featured paper-title"').replace(
        'class="author"', 'class="author verified"')
    assert extract(html, URL).papers == extract(seed_html(), URL).papers


def test_a_field_outside_every_card_belongs_to_none():
    html = seed_html().replace('<li><article class="paper-card">', '<li><p class="paper-abstract">Stray</p></li>'
                               '<li><article class="paper-card">', 1)
    assert extract(html, URL).papers == extract(seed_html(), URL).papers


def test_a_card_without_a_title_is_a_layout_change():
    html = seed_html().replace('class="paper-title"', 'class="paper-heading"', 1)
    with pytest.raises(LayoutChanged) as excinfo:
        extract(html, URL)
    assert excinfo.value.missing == ["card_title"]


def test_a_value_too_long_for_its_column_is_an_extraction_error():
    doi = f'<a class="doi" href="https://doi.org/10.1/{"x" * 300}"></a>'
    html = seed_html().replace('<h3 class="paper-title">', doi + '<h3 class="paper-title">', 1)
    with pytest.raises(ExtractionError, match="doi longer than 255"):
        extract(html, URL)
