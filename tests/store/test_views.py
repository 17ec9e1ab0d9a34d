"""The views SQL consumers query: the same answers on SQLite and PostgreSQL, from a database made either way."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import text

from ingest.store import make_engine, migrate
from tests.store.test_load import T0, author, load, paper, profile


def view(engine, name: str, order: str) -> list[dict]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(text(f"SELECT * FROM {name} ORDER BY {order}")).mappings()]


def parsed(value):
    return json.loads(value) if isinstance(value, str) else value


def test_the_views_show_current_metrics_listings_and_history(engine):
    load(engine, profile(author(), [paper("One", arxiv_id="2101.00001"), paper("Two")]))
    load(engine, profile(author("8"), [paper("One", arxiv_id="2101.00001")]))
    load(engine, profile(author(citations=150), [paper("One", arxiv_id="2101.00001")]), now=T0 + timedelta(days=1))

    latest = {row["source_id"]: row for row in view(engine, "author_latest", "author_id")}
    assert (latest["7"]["citations"], latest["7"]["papers_listed"], latest["8"]["papers_listed"]) == (150, 1, 1)
    assert parsed(latest["7"]["source_metrics"]) == {"novelty_pct": 50, "ai_score": 40}

    papers = {row["title"]: row for row in view(engine, "paper_with_authors", "paper_id")}
    one = papers["One"]
    assert one["arxiv_url"] == "https://arxiv.org/abs/2101.00001" and one["doi_url"] is None
    assert [a["source_id"] for a in parsed(one["listed_by"])] == ["7", "8"]
    assert parsed(one["authors"]) == ["A. One", "B. Two", "C. Three"]
    assert parsed(papers["Two"]["listed_by"]) == []  # no longer listed by anyone

    history = view(engine, "author_metric_history", "author_id, observed_at")
    assert [(row["source_id"], row["citations"]) for row in history] == [("7", 100), ("7", 150), ("8", 100)]


def test_an_upgraded_database_has_the_views_a_new_one_has(database_url):
    engine = make_engine(database_url)
    migrate.downgrade(engine, "0006_gscholar")
    migrate.upgrade(engine)
    load(engine, profile(author(), [paper("One")]))
    assert [row["papers_listed"] for row in view(engine, "author_latest", "author_id")] == [1]
    engine.dispose()
