"""Papers that share no id are still one paper when the fuzzy match says so (`ingest.match`): within a batch and
against the stored papers, never across different ids."""

from __future__ import annotations

from datetime import timedelta

from ingest.records import PaperRecord
from ingest.store import Authorship, Paper
from tests.dbutil import rows
from tests.store.test_load import T0, author, load, paper, profile

TITLE = "Adaptive Federated Optimization"


def openalex_profile(source_id: str, papers: list[PaperRecord]):
    return profile(author(source_id, source="openalex", source_metrics={}, source_fields={}), papers)


def test_a_journal_version_sharing_no_id_joins_the_stored_preprint(engine):
    load(engine, profile(author("1"), [paper(TITLE, arxiv_id="2003.00295", year=2020, authors=["Sashank Reddi"])]))
    journal = PaperRecord(title="ADAPTIVE FEDERATED OPTIMIZATION: Theory and Practice", year=2021,
                          doi="10.5555/iclr.2021.1", authors=["Sashank Reddi", "Zachary Charles", "Manzil Zaheer"],
                          source_fields={"openalex": {"openalex_id": "W1"}})
    counts = load(engine, openalex_profile("A1", [journal]), now=T0 + timedelta(days=1))
    (row,) = rows(engine, Paper)
    assert (row.arxiv_id, row.doi, counts.papers_inserted) == ("2003.00295", "10.5555/iclr.2021.1", 0)
    assert len(rows(engine, Authorship)) == 2  # both authors on the one paper


def test_a_preprint_found_later_joins_the_stored_journal_version_among_papers_with_other_ids(engine):
    journal = PaperRecord(title=TITLE, year=2021, doi="10.5555/iclr.2021.1", authors=["Sashank Reddi"],
                          source_fields={"openalex": {"openalex_id": "W1"}})
    load(engine, openalex_profile("A1", [journal]))
    # Same head, other ids: papers the preprint cannot be, stored before and after the one it is.
    load(engine, profile(author("2"), [paper(f"{TITLE} {n}", arxiv_id=f"2003.0030{n}", year=2021) for n in (1, 2)]))
    load(engine, profile(author("1"), [paper(TITLE, arxiv_id="2003.00295", year=2020, authors=["Sashank Reddi"])]),
         now=T0 + timedelta(days=1))
    preprint = [row for row in rows(engine, Paper) if row.doi]
    assert [(row.arxiv_id, row.doi) for row in preprint] == [("2003.00295", "10.5555/iclr.2021.1")]
    assert len(rows(engine, Paper)) == 3


def test_spellings_within_one_batch_are_one_paper(engine):
    load(engine, profile(author("1"), [paper(TITLE, authors=["S Reddi"]),
                                        paper("Adaptive federated optimisation.", authors=["Sashank Reddi"])]))
    assert len(rows(engine, Paper)) == 1


def test_different_arxiv_ids_are_two_papers_however_alike(engine):
    load(engine, profile(author("1"), [paper(TITLE, arxiv_id="2003.00295")]))
    load(engine, profile(author("2"), [paper("Adaptive Federated Optimisation", arxiv_id="2003.00296")]))
    assert len(rows(engine, Paper)) == 2


def test_a_generic_title_by_someone_else_a_year_later_is_another_paper(engine):
    load(engine, profile(author("1"), [paper("Introduction", year=2020, authors=["Ada Lovell"])]))
    load(engine, profile(author("2"), [paper("Introduction", year=2021, authors=["Bruno Keller"])]))
    assert len(rows(engine, Paper)) == 2
