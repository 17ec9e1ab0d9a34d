"""Every paper is linked to the source records it came from: one link per source and id, first and last seen,
and links follow a paper into the one it merges into."""

from __future__ import annotations

from datetime import timedelta

from ingest.records import PaperRecord
from ingest.store import Paper
from ingest.store.tables import PaperSource
from tests.dbutil import rows
from tests.store.test_load import T0, author, load, paper, profile


def links(engine) -> set[tuple[int, str, str]]:
    return {(r.paper_id, r.source, r.source_record_id) for r in rows(engine, PaperSource)}


def from_openalex(title: str, work: str, **fields) -> PaperRecord:
    return PaperRecord(title=title, year=2020, authors=["A. One", "B. Two", "C. Three", "D. Four"],
                       source_fields={"openalex": {"openalex_id": work, "cited_by": 3}}, **fields)


def test_a_paper_from_two_sources_is_one_row_linked_to_both(engine):
    load(engine, profile(author("1"), [paper("Deep Nets", arxiv_id="2003.00295")]))
    load(engine, profile(author("A5", source="openalex"),
                         [from_openalex("Deep Nets", "W9", doi="10.48550/arXiv.2003.00295")]), now=T0 + timedelta(1))
    (row,) = rows(engine, Paper)
    assert links(engine) == {(row.id, "scholarfeed", "2003.00295"), (row.id, "openalex", "W9")}
    assert row.authors == ["A. One", "B. Two", "C. Three", "D. Four"] and not row.authors_truncated


def test_a_link_keeps_when_it_was_first_seen_and_moves_its_last(engine):
    load(engine, profile(author("1"), [paper("Deep Nets", arxiv_id="2003.00295")]))
    load(engine, profile(author("1"), [paper("Deep Nets", arxiv_id="2003.00295", abstract="New.")]),
         now=T0 + timedelta(days=7))
    (link,) = rows(engine, PaperSource)
    assert (link.first_seen_at.date(), link.last_seen_at.date()) == (T0.date(), (T0 + timedelta(days=7)).date())


def test_links_follow_a_paper_into_the_one_it_merges_into(engine):
    load(engine, profile(author("1"), [paper("Adam: a method", arxiv_id="1412.6980")]))
    load(engine, profile(author("A5", source="openalex"), [from_openalex("Adam (journal)", "W7", doi="10.1/adam")]))
    survivor, gone = (r.id for r in rows(engine, Paper))
    load(engine, profile(author("2"), [paper("Adam", arxiv_id="1412.6980", doi="10.1/adam")]))
    assert links(engine) == {(survivor, "scholarfeed", "1412.6980"), (survivor, "openalex", "W7")}
    assert gone not in {r.id for r in rows(engine, Paper)}


def test_a_source_record_seen_again_under_a_corrected_title_is_the_same_paper(engine):
    load(engine, profile(author("A5", source="openalex"), [from_openalex("Deep Nets", "W9")]))
    load(engine, profile(author("A5", source="openalex"), [from_openalex("Convolutional Networks for Vision", "W9")]),
         now=T0 + timedelta(1))
    (row,) = rows(engine, Paper)
    assert row.title == "Convolutional Networks for Vision"
    assert links(engine) == {(row.id, "openalex", "W9")}


def test_a_source_record_id_does_not_join_papers_whose_dois_differ(engine):
    load(engine, profile(author("A5", source="openalex"), [from_openalex("Deep Nets", "W9", doi="10.1/a")]))
    load(engine, profile(author("A5", source="openalex"), [from_openalex("Other Nets", "W9", doi="10.1/b")]))
    assert len(rows(engine, Paper)) == 2
