"""The arXiv source on a real API feed (namespaces declared on the root) and on our own in the classic
serialisation (declared on each element), an error answer and an HTML answer."""

from __future__ import annotations

import json
from datetime import date

import pytest

from ingest.sources import BlockedPage, ExtractionError, LayoutChanged, Origin, registry
from ingest.sources.arxiv import SOURCE
from tests.cli.runner import ingest
from tests.conftest import FIXTURES, SEEN

REAL = FIXTURES / "arxiv_api_query_all_nicotine_10entries.xml"
CLASSIC = FIXTURES / "arxiv-own-classic.xml"


def read(body: bytes):
    return SOURCE.extract(body, Origin.of("https://export.arxiv.org/api/query?id_list=x", body, SEEN))


def test_real_feed_current_serialisation():
    page = read(REAL.read_bytes())
    assert len(page.papers) == 10 and page.author is None and page.first_position == 1
    first = page.papers[0]
    assert (first.arxiv_id, first.title, first.authors, first.published_on, first.year, first.doi) == (
        "1509.01687", "Single Molecule Transistor based Nanopore for the detection of Nicotine", ["S. J. Ray"],
        date(2015, 9, 5), 2015, "10.1063/1.4904358")
    assert first.abstract.startswith("A nanopore based detection methodology") and "  " not in first.abstract
    own = first.source_fields["arxiv"]
    assert (own["categories"], own["version"], own["journal_ref"], own["comment"]) == (
        ["cond-mat.mes-hall", "physics.comp-ph"], 1, "Journal of Applied Physics 116, 244307 (2014)", "4 figures")
    second = page.papers[1]
    assert (second.arxiv_id, second.source_fields["arxiv"]["version"], second.published_on) == (
        "1206.3474", 2, date(2012, 6, 15))  # published is v1's date, whatever version the feed describes
    assert sum(p.doi is not None for p in page.papers) == 3


def test_classic_serialisation_per_element_namespaces_and_old_style_ids():
    first, second = read(CLASSIC.read_bytes()).papers
    assert (first.arxiv_id, first.title, first.published_on, first.doi) == (
        "2003.00295", "Adaptive Federated Optimization", date(2020, 2, 29), "10.5555/example.2021.1")
    assert first.authors == ["Sashank Reddi", "Zachary Charles", "Manzil Zaheer", "Zachary Garrett"]
    assert first.abstract.startswith("Federated learning is a distributed machine learning paradigm in which a large")
    own = first.source_fields["arxiv"]
    assert (own["categories"], own["primary_category"], own["version"], own["comment"]) == (
        ["cs.LG", "stat.ML", "math.OC"], "cs.LG", 5, "Published at ICLR 2021")  # the primary first
    assert (second.arxiv_id, second.authors, second.source_fields["arxiv"]["journal_ref"]) == (
        "hep-th/9901001", ["Ada Lovell"], "Phys. Lett. B 1 (1999) 1")


def test_an_error_entry_is_a_malformed_answer():
    body = (b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/api/errors#incorrect_id_format'
            b'_for_1234</id><title>Error</title><summary>incorrect id format for 1234</summary></entry></feed>')
    with pytest.raises(ExtractionError, match="incorrect id format for 1234"):
        read(body)


def test_html_is_a_block_and_other_xml_a_changed_layout():
    for html in (b"<!DOCTYPE html>\n<html><body><p>Rate exceeded.</p><br></body></html>",
                 b"<html><body>Rate exceeded.</body></html>"):  # the second is well-formed XML too
        with pytest.raises(BlockedPage):
            read(html)
    with pytest.raises(LayoutChanged):
        read(b"<rss><channel/></rss>")
    with pytest.raises(ExtractionError, match="not XML"):
        read(b"oops")


def test_arxiv_claims_no_profiles():
    assert SOURCE.profile("https://arxiv.org/a/reddi_s_1") is None
    assert registry.get("arxiv") is SOURCE


def test_cli_extract_prints_the_pinned_keys(tmp_path):
    papers = json.loads(ingest("extract", str(CLASSIC), "--source", "arxiv", cwd=tmp_path).stdout)["papers"]
    assert {k: papers[0][k] for k in ("arxiv_id", "title", "published_on", "doi", "categories")} == {
        "arxiv_id": "2003.00295", "title": "Adaptive Federated Optimization", "published_on": "2020-02-29",
        "doi": "10.5555/example.2021.1", "categories": ["cs.LG", "stat.ML", "math.OC"]}
    assert len(papers[0]["authors"]) == 4 and papers[0]["abstract"].startswith("Federated learning")
