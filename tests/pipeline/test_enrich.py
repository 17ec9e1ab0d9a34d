"""Completing papers from arXiv after a refresh, against the bundled site's arXiv API: whole author lists,
abstracts and categories land on the papers Scholar Feed lists cut short; what arXiv lacks stays as it was;
a failed or unreadable answer is reported and asked again next time."""

from __future__ import annotations

import re

from sqlalchemy import select

from ingest.config import load_settings
from ingest.pipeline.enrich import wanting
from ingest.pipeline.refresh import refresh
from ingest.site import faults
from ingest.site.server import Response
from ingest.store.tables import Paper, PaperSource, Quarantine

FAST = {"backoff_base_s": 0.01, "backoff_max_s": 0.05, "max_attempts": 2,
        "hosts": {"127.0.0.1": {"min_interval_s": 0.0}}}


def enriching(database_url, site_url, **arxiv):
    return load_settings(None, database_url=database_url, http=FAST, profiles={"urls": [f"{site_url}/author/1"]},
                         arxiv={"enrich": True, "api_url": f"{site_url}/api/query", **arxiv})


def papers(engine) -> dict[str, Paper]:
    with engine.connect() as conn:
        return {row.arxiv_id: row for row in conn.execute(select(Paper.__table__))}


async def test_the_seeds_papers_get_their_whole_bylines_abstracts_and_categories(site, site_url, engine,
                                                                             database_url):
    run = await refresh(enriching(database_url, site_url, batch_size=4), engine)
    assert run.status == "ok"
    asked = [path for _, path, _ in site.requests if path.startswith("/api/query")]
    assert len(asked) == 3  # ten cut short (the eleventh is whole on the page), four ids a request
    stored = papers(engine)
    whole = {p.arxiv_id: p for p in site.corpus.seed_papers}
    assert len(stored) == 11
    for arxiv_id, paper in stored.items():
        if arxiv_id == "2507.06261":  # arXiv (here) does not hold it: as the page showed it
            assert paper.authors_truncated and "arxiv" not in paper.source_fields
        elif arxiv_id == "2011.08474":  # whole on the page, with its abstract and date: not asked for
            assert not paper.authors_truncated and "arxiv" not in paper.source_fields
        else:
            assert (paper.authors, paper.authors_truncated) == (whole[arxiv_id].authors, False), arxiv_id
            assert paper.source_fields["arxiv"]["categories"][0].startswith("cs.")
    assert run.papers_updated == 9
    with engine.connect() as conn:
        linked = set(conn.execute(select(PaperSource.source_record_id).where(PaperSource.source == "arxiv")).scalars())
    assert linked == set(stored) - {"2507.06261", "2011.08474"}  # each paper arXiv answered for, linked to it
    assert wanting(engine, 100) == ["2507.06261"]  # only what arXiv could not complete is asked again
    again = await refresh(enriching(database_url, site_url), engine)
    assert (again.papers_updated, again.papers_inserted) == (0, 0)


async def test_a_failed_request_is_counted_and_an_unreadable_answer_quarantined(site, site_url, engine,
                                                                            database_url):
    settings = enriching(database_url, site_url, batch_size=100)
    await refresh(load_settings(None, database_url=database_url, http=FAST,
                                profiles={"urls": [f"{site_url}/author/1"]}), engine)
    target = next(iter(wanting(engine, 100)))
    ids = ",".join(wanting(engine, 100))
    path = f"/api/query?id_list={ids}&max_results={len(wanting(engine, 100))}"
    site.script(path, faults.status(503), faults.status(503))
    run = await refresh(settings, engine)
    assert (run.status, run.pages_failed) == ("failed", 1) and target in wanting(engine, 100)
    site.script(path, Response(200, b"<html><body>Rate exceeded.</body></html>", {"Content-Type": "text/html"}))
    run = await refresh(settings, engine)
    assert run.pages_quarantined == 1
    with engine.connect() as conn:
        [entry] = conn.execute(select(Quarantine.__table__)).all()
    assert entry.reason == "blocked" and entry.body_sha256 is not None
    assert (await refresh(settings, engine)).papers_updated == 9  # the next one completes all arXiv holds


def test_ingest_enrich_completes_papers_on_its_own_and_says_so(site, site_url, tmp_path):
    from tests.cli.runner import ingest

    db = f"sqlite:///{tmp_path / 'e.db'}"
    assert ingest("run", f"{site_url}/author/1", "--database", db, cwd=tmp_path).returncode == 0
    done = ingest("enrich", "--database", db, cwd=tmp_path, INGEST_ARXIV__API_URL=f"{site_url}/api/query",
                  INGEST_HTTP__HOSTS='{"127.0.0.1": {"min_interval_s": 0}}')
    assert done.returncode == 0, done.stderr
    assert re.search(r"run \d+ \(enrich\): ok", done.stdout) and re.search(r"papers updated\W+9\b", done.stdout)
    from ingest.store import make_engine

    assert wanting(make_engine(db), 100) == ["2507.06261"]
