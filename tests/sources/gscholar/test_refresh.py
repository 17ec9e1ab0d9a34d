"""Scholar profiles through the whole flow against the bundled site: fetch -> page -> load, in two UI languages
and the older layout, the robots-limited listing, blocks and the host's circuit breaker, sudden shrinkage."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ingest.config import load_settings
from ingest.pipeline.refresh import refresh
from ingest.store.tables import Author, Authorship, AuthorYearly, HostBlock, Quarantine

USERS = ("gsEnglish0AJ", "gsDeutsch0AJ", "gsOldLayoAJ")
# The bundled site's pace made fast, but one request at a time, as Scholar's defaults are.
FAST = {"backoff_base_s": 0.01, "backoff_max_s": 0.05, "hosts": {"127.0.0.1": {
    "min_interval_s": 0.0, "concurrency": 1, "jitter_s": 0.0}}}


def scholar_settings(database_url, site_url, users=USERS, **overrides):
    return load_settings(None, database_url=database_url, http={**FAST, **overrides.pop("http", {})},
                         profiles={"urls": [f"{site_url}/citations?user={u}&hl=en" for u in users]}, **overrides)


def rows(engine, model):
    with engine.connect() as conn:
        return conn.execute(select(model.__table__)).all()


def active(engine) -> dict[str, int]:
    a, s = Author.__table__, Authorship.__table__
    with engine.connect() as conn:
        return dict(conn.execute(select(a.c.source_id, func.count()).join(s, s.c.author_id == a.c.id)
                                 .where(s.c.removed_at.is_(None)).group_by(a.c.source_id)).all())


async def test_profiles_in_two_languages_and_the_old_layout_load_with_their_history(site, site_url, engine,
                                                                                 database_url):
    run = await refresh(scholar_settings(database_url, site_url), engine)
    assert (run.status, run.authors_inserted, run.pages_loaded, run.profiles_blocked) == ("ok", 3, 3, 0)
    assert active(engine) == {"gsEnglish0AJ": 30, "gsDeutsch0AJ": 12, "gsOldLayoAJ": 8}
    authors = {r.source_id: r for r in rows(engine, Author)}
    german = site.scholar["gsDeutsch0AJ"]
    assert authors["gsDeutsch0AJ"].source_metrics["citations_all"] == german.metrics()[0][0]
    assert authors["gsDeutsch0AJ"].profile_url == f"{site_url}/citations?user=gsDeutsch0AJ&hl=en&pagesize=100"
    yearly = {(r.year, r.value) for r in rows(engine, AuthorYearly) if r.author_id == authors["gsDeutsch0AJ"].id}
    assert yearly == set(german.chart.items())
    again = await refresh(scholar_settings(database_url, site_url), engine)  # idempotent
    assert (again.authors_updated, again.papers_inserted, again.authorships_changed) == (0, 0, 0)


async def test_robots_limits_a_long_profile_to_its_first_100_rows_ends_nothing_and_then_is_unchanged(site, site_url, engine,
                                                                                 database_url):
    walk = scholar_settings(database_url, site_url, ["gsManyRowsAJ"], http={"obey_robots_txt": False})
    first = await refresh(walk, engine)  # without robots.txt the cstart walk reads the rows-only answers
    assert (first.pages_loaded, first.listings_partial, active(engine)) == (2, 0, {"gsManyRowsAJ": 130})
    site.hits.clear()
    polite = await refresh(scholar_settings(database_url, site_url, ["gsManyRowsAJ"]), engine)
    assert (polite.status, polite.pages_loaded, polite.listings_partial, polite.pages_quarantined) == ("ok", 1, 1, 0)
    assert not [path for path in site.hits if "cstart=" in path]  # disallowed: never requested
    assert active(engine) == {"gsManyRowsAJ": 130}  # the 30 rows it could not see stay
    again = await refresh(scholar_settings(database_url, site_url, ["gsManyRowsAJ"]), engine)
    assert (again.pages_fetched, again.pages_unchanged, again.pages_loaded) == (1, 1, 0)  # as far as it can go


@pytest.mark.parametrize("kind", ["captcha", "sorry", "consent", "signin", "429"])
async def test_a_block_writes_nothing_trips_the_hosts_breaker_and_shows_in_the_summary(site, site_url, engine,
                                                                                     database_url, kind):
    settings = scholar_settings(database_url, site_url)
    await refresh(settings, engine)
    before = (rows(engine, Author), active(engine))
    for profile in site.scholar.values():  # the host has banned us: every profile answers with the block
        profile.block = kind
    site.requests.clear()
    run = await refresh(settings, engine)
    assert (run.profiles_blocked, run.profiles_skipped, run.pages_failed) == (1, 2, 0)
    scholar = [path for _, path, _ in site.requests if path.startswith(("/citations", "/sorry/"))]
    assert len(scholar) == 1  # the block, and no request after it
    assert (rows(engine, Author), active(engine)) == before  # the authors' rows untouched
    [entry] = rows(engine, Quarantine)
    assert entry.reason == "blocked"
    [block] = rows(engine, HostBlock)
    assert block.host == "127.0.0.1"
    site.requests.clear()
    later = await refresh(settings, engine)  # within the cool-down: the host is left alone
    assert (later.profiles_skipped, later.profiles_blocked) == (3, 0)
    assert not [path for _, path, _ in site.requests if path.startswith("/citations")]


async def test_the_breaker_reopens_after_its_cool_down(site, site_url, engine, database_url):
    settings = scholar_settings(database_url, site_url, blocks={"cooldown_s": 0})
    site.scholar["gsEnglish0AJ"].block = "captcha"
    first = await refresh(settings, engine)
    assert (first.profiles_blocked, first.profiles_skipped, first.authors_inserted) == (1, 0, 2)
    site.scholar["gsEnglish0AJ"].block = None
    run = await refresh(settings, engine)
    assert (run.profiles_blocked, run.profiles_skipped, run.authors_inserted) == (0, 0, 1)


async def test_a_sudden_shrinkage_is_quarantined_not_ended(site, site_url, engine, database_url):
    settings = scholar_settings(database_url, site_url, ["gsEnglish0AJ"])
    await refresh(settings, engine)
    del site.scholar["gsEnglish0AJ"].rows[5:]
    run = await refresh(settings, engine)
    assert (run.pages_quarantined, run.pages_loaded) == (1, 0)
    assert [r.reason for r in rows(engine, Quarantine)] == ["shrunk"]
    assert active(engine) == {"gsEnglish0AJ": 30}
