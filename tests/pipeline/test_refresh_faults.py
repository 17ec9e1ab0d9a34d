"""Every fault the bundled site can play has one outcome in a refresh: retried then loaded,
quarantined with its reason (the run goes on), or failed with a clear message. docs/faults.md
lists them; each row names a test here."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ingest.config import Settings, load_settings
from ingest.pipeline.refresh import refresh
from ingest.site import faults
from ingest.site.server import Site
from ingest.store import Author, Authorship, Quarantine, make_engine
from tests.dbutil import count, quarantined_body, rows

FAULTY, GOOD = "/author/1", "/author/1002"
# Short enough to keep the suite quick, long enough for loopback.
HTTP = dict(max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.02, read_timeout_s=0.3, response_timeout_s=0.8,
            retry_after_cap_s=3, max_body_bytes=200_000)


def drop_first_card(html: str) -> str:
    return re.sub(r'<li><article class="paper-card">.*?</article></li>\n?', "", html, count=1, flags=re.S)


def seed(site: Site) -> str:
    return site.corpus.render(1, 1)


def fast_settings(database_url: str, site_url: str, paths=(FAULTY, GOOD), **http) -> Settings:
    return load_settings(None, database_url=database_url, profiles={"urls": [site_url + p for p in paths]},
                         http=HTTP | http)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    """These rows are about HTTP, not SQL: one SQLite file (the mixed run below uses both databases)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'faults.db'}")
    yield engine
    engine.dispose()


async def run(site_url: str, engine: Engine, **http):
    return await refresh(fast_settings(str(engine.url), site_url, **http), engine)


def good_pages(site: Site) -> int:
    return site.corpus.page_count(1002)


def loaded(engine: Engine, source_id: str) -> int:
    """Active authorships of the author, or -1 when the author is not in the database."""
    authors = rows(engine, Author, Author.source_id == source_id)
    if not authors:
        return -1
    return count(engine, Authorship, Authorship.author_id == authors[0].id, Authorship.removed_at.is_(None))


# -- retried, then loaded --------------------------------------------------------------------------

TRANSIENT = {
    "500": lambda site: [faults.status(500)],
    "502": lambda site: [faults.status(502)],
    "503": lambda site: [faults.status(503)],
    "504": lambda site: [faults.status(504)],
    "408": lambda site: [faults.status(408)],
    "reset": lambda site: [faults.reset()],
    "stall": lambda site: [faults.stall(5)],
    "truncated": lambda site: [faults.truncated(faults.page(seed(site)), missing=100)],
    "empty-200": lambda site: [faults.empty()],
    "two-in-a-row": lambda site: [faults.reset(), faults.status(503)],
}


@pytest.mark.parametrize("fault", TRANSIENT)
async def test_transient_faults_are_retried_then_loaded(site, site_url, engine, fault):
    script = TRANSIENT[fault](site)
    site.script(FAULTY, *script)
    summary = await run(site_url, engine)
    assert summary.status == "ok" and summary.retries == len(script)
    assert (summary.pages_loaded, summary.pages_quarantined, summary.pages_failed) == (1 + good_pages(site), 0, 0)
    assert site.hits[FAULTY] == len(script) + 1
    assert loaded(engine, "1") == 11


@pytest.mark.parametrize("retry_after", ["seconds", "http-date"])
async def test_429_retry_after_is_waited_then_loaded(site, site_url, engine, retry_after):
    when = 1 if retry_after == "seconds" else datetime.now(timezone.utc) + timedelta(seconds=2)
    site.script(FAULTY, faults.rate_limited(when))
    summary = await run(site_url, engine)
    assert summary.status == "ok" and summary.retries == 1 and loaded(engine, "1") == 11
    first, second = [at for at, path, _ in site.requests if path == FAULTY]
    assert second - first >= 0.9  # backoff alone waits at most 0.02 s; an HTTP date has 1 s resolution


async def test_a_slow_trickle_within_the_timeouts_is_loaded(site, site_url, engine):
    site.script(FAULTY, faults.trickle(faults.page(seed(site)), chunk=2000, interval_s=0.02))
    summary = await run(site_url, engine)
    assert summary.status == "ok" and summary.retries == 0 and loaded(engine, "1") == 11


# -- failed with a clear message (retries spent) -----------------------------------------------------

PERSISTENT = {
    "503": (lambda site: faults.status(503), "http_503", "still HTTP 503 after 3 attempts"),
    "429": (lambda site: faults.rate_limited(0), "http_429", "still HTTP 429 after 3 attempts"),
    "reset": (lambda site: faults.reset(), "connection", "ReadError after 3 attempts"),
    "stall": (lambda site: faults.stall(5), "timeout", "ReadTimeout after 3 attempts"),
    "truncated": (lambda site: faults.truncated(faults.page(seed(site)), missing=100), "protocol",
                  "peer closed connection without sending complete message body"),
    "trickle-too-slow": (lambda site: faults.trickle(faults.page(seed(site)), chunk=1000, interval_s=0.1), "timeout",
                         "no complete response within 0.8 s"),
}


@pytest.mark.parametrize("fault", PERSISTENT)
async def test_persistent_transient_faults_fail_the_page_with_a_clear_message(site, site_url, engine, caplog, fault):
    make, reason, message = PERSISTENT[fault]
    site.script(FAULTY, *[make(site) for _ in range(HTTP["max_attempts"])])
    with caplog.at_level(logging.WARNING, logger="ingest.pipeline.refresh"):
        summary = await run(site_url, engine)
    assert summary.status == "failed" and summary.retries == HTTP["max_attempts"] - 1
    assert (summary.pages_failed, summary.pages_loaded) == (1, good_pages(site))
    assert f"{FAULTY} {reason}: " in caplog.text and message in caplog.text
    assert loaded(engine, "1") == -1 and loaded(engine, "1002") > 0


# -- quarantined with a reason, the page kept ------------------------------------------------------

QUARANTINED = {
    # fault: (responses, reason, words of the detail, words of the kept body or None: no body)
    "empty-200-every-time": (lambda site: [faults.empty()] * 3, "empty", "empty body", ""),
    "malformed-html": (lambda site: [faults.malformed()], "layout_changed", "missing expected elements: header",
                       "unclosed"),
    "malformed-value": (lambda site: [faults.page(seed(site).replace("<dd>6,445</dd>", "<dd>lots</dd>"))],
                        "malformed", "not a number: 'lots'", "Sashank Reddi"),
    "layout-changed": (lambda site: [faults.layout_changed(seed(site))], "layout_changed",
                       "missing expected elements: header, listing", "profile-head"),
    "cards-renamed": (lambda site: [faults.layout_changed(seed(site), {"paper-card": "card"})], "layout_changed",
                      "missing expected elements: card", "Sashank Reddi"),
    "metrics-renamed": (lambda site: [faults.layout_changed(seed(site), {"metric": "stat"})], "layout_changed",
                        "missing expected elements: metric", "Sashank Reddi"),
    "captcha": (lambda site: [faults.captcha()], "blocked", "CAPTCHA", "unusual traffic"),
    "fewer-papers-than-declared": (lambda site: [faults.page(drop_first_card(seed(site)))], "incomplete",
                                   "10 papers on 1 page(s), but the profile declares 11", "Sashank Reddi"),
    "huge-declared": (lambda site: [faults.huge(300_000)], "too_large", "Content-Length 300000 exceeds", None),
    "huge-undeclared": (lambda site: [faults.huge(300_000, declared=False)], "too_large", "body exceeds the cap",
                        "xxxx"),
    "not-html": (lambda site: [faults.page(b"%PDF-1.7", "application/pdf")], "content_type",
                 "expected text/html, got application/pdf", None),
    "404": (lambda site: [faults.status(404)], "http_404", "HTTP 404", None),
}


@pytest.mark.parametrize("fault", QUARANTINED)
async def test_bad_pages_are_quarantined_with_their_reason_and_body(site, site_url, engine, fault):
    make, reason, detail, body = QUARANTINED[fault]
    site.script(FAULTY, *make(site))
    summary = await run(site_url, engine)
    assert summary.status == "ok"  # a quarantined page does not fail the run
    assert (summary.pages_quarantined, summary.pages_loaded, summary.pages_failed) == (1, good_pages(site), 0)
    (entry,) = rows(engine, Quarantine)
    assert (entry.url, entry.reason, entry.run_id) == (site_url + FAULTY, reason, summary.id)
    assert detail in entry.detail
    kept = quarantined_body(engine, entry)
    assert kept is None if body is None else body.encode() in kept
    assert loaded(engine, "1") == -1  # never loaded as an empty or partial success


async def test_a_redirect_loop_is_quarantined(site, site_url, engine):
    site.script(FAULTY, faults.redirect("/moved"))
    site.script("/moved", faults.redirect(FAULTY))
    summary = await run(site_url, engine)
    assert summary.pages_quarantined == 1 and loaded(engine, "1") == -1
    (entry,) = rows(engine, Quarantine)
    assert entry.reason == "redirect_loop" and entry.detail.endswith(f"{FAULTY} -> {site_url}/moved -> {site_url}{FAULTY}")


async def test_a_redirect_to_a_disallowed_host_is_quarantined_without_connecting(site, site_url, engine, other_host):
    elsewhere, accepted = other_host
    site.script(FAULTY, faults.redirect(elsewhere + "/author/1"))
    summary = await run(site_url, engine)
    assert summary.pages_quarantined == 1 and summary.pages_loaded == good_pages(site)
    (entry,) = rows(engine, Quarantine)
    assert entry.reason == "redirect_refused" and "'127.0.0.2' is not an allowed host" in entry.detail
    assert accepted == []


async def test_a_next_link_to_another_host_is_refused_without_connecting(site, site_url, engine, other_host):
    elsewhere, accepted = other_host
    html = seed(site).replace("</ol>", f'</ol><nav><a rel="next" href="{elsewhere}/author/1?page=2">Next</a></nav>')
    site.script(FAULTY, faults.page(html))
    summary = await run(site_url, engine)
    (entry,) = rows(engine, Quarantine)
    assert (entry.url, entry.reason) == (f"{elsewhere}/author/1?page=2", "pagination")
    assert summary.pages_quarantined == 1 and accepted == []


# -- what may not be fetched -------------------------------------------------------------------------

async def test_a_page_robots_txt_disallows_is_quarantined_unrequested(site, site_url, engine):
    site.script("/robots.txt", faults.page("User-agent: *\nDisallow: /author/1$\n", "text/plain"))
    summary = await run(site_url, engine)
    assert summary.status == "ok" and (summary.pages_quarantined, summary.pages_loaded) == (1, good_pages(site))
    (entry,) = rows(engine, Quarantine)
    assert (entry.url, entry.reason) == (site_url + FAULTY, "robots") and site.hits[FAULTY] == 0


async def test_an_unreachable_robots_txt_fails_the_sites_pages_unrequested(site, site_url, engine, caplog):
    site.script("/robots.txt", *[faults.status(503)] * HTTP["max_attempts"])
    with caplog.at_level(logging.WARNING, logger="ingest.pipeline.refresh"):
        summary = await run(site_url, engine)
    assert summary.status == "failed" and (summary.pages_failed, summary.pages_loaded) == (2, 0)
    assert "robots.txt unreachable: still HTTP 503 after 3 attempts" in caplog.text
    assert site.hits[FAULTY] == site.hits[GOOD] == 0


async def test_a_site_outside_the_allowed_networks_is_quarantined_unrequested(site, site_url, engine):
    summary = await run(site_url, engine, allowed_networks=[])
    assert summary.status == "ok" and (summary.pages_quarantined, summary.pages_loaded) == (2, 0)
    assert {q.reason for q in rows(engine, Quarantine)} == {"address_not_allowed"}
    assert sum(site.hits.values()) == 0


async def test_a_sitemap_entry_on_another_host_is_quarantined_without_connecting(site, site_url, engine, other_host):
    elsewhere, accepted = other_host
    urls = "".join(f"<url><loc>{u}</loc></url>" for u in (site_url + GOOD, elsewhere + "/author/1"))
    site.script("/sitemap.xml", faults.page(f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}'
                                            "</urlset>", "application/xml"))
    settings = load_settings(None, database_url=str(engine.url), profiles={"sitemap": site_url + "/sitemap.xml"},
                             http=HTTP)
    summary = await refresh(settings, engine)
    assert (summary.pages_quarantined, summary.pages_loaded) == (1, good_pages(site))
    (entry,) = rows(engine, Quarantine)
    assert (entry.url, entry.reason) == (elsewhere + "/author/1", "host_not_allowed") and accepted == []


# -- a mixed run -------------------------------------------------------------------------------------

MIXED = {  # profile: (responses, outcome)
    1001: ([faults.status(503)], "loaded"),
    1002: ([faults.reset()], "loaded"),
    1003: ([faults.stall(5)], "loaded"),
    1004: ([faults.rate_limited(0)], "loaded"),
    1005: ([faults.empty()], "loaded"),
    1006: ([faults.status(502)] * 3, "failed"),
    1007: ([faults.captcha()], "quarantined"),
    1008: ([faults.malformed()], "quarantined"),
    1009: ([faults.huge(300_000)], "quarantined"),
    1010: ([faults.page(b"{}", "application/json")], "quarantined"),
    1011: ([faults.status(410)], "quarantined"),
}


async def test_a_mixed_run_loads_every_good_page_and_counts_every_fault(site, site_url, database_url, other_host):
    corpus = site.corpus
    elsewhere, accepted = other_host
    for author, (responses, _) in MIXED.items():
        site.script(f"/author/{author}", *responses)
    truncated = next(a for a in corpus.authors if a not in MIXED and corpus.page_count(a) > 1)
    site.script(f"/author/{truncated}", faults.truncated(faults.page(corpus.render(truncated, 1)), missing=10))
    layout = next(a for a in corpus.authors if a not in MIXED and a != truncated)
    site.script(f"/author/{layout}", faults.layout_changed(corpus.render(layout, 1)))
    escaping = next(a for a in corpus.authors if a not in MIXED and a not in (truncated, layout))
    site.script(f"/author/{escaping}", faults.redirect(elsewhere + "/x"))
    quarantined = [a for a, (_, o) in MIXED.items() if o == "quarantined"] + [layout, escaping]
    not_loaded = quarantined + [a for a, (_, o) in MIXED.items() if o == "failed"]
    settings = load_settings(None, database_url=database_url, profiles={"sitemap": f"{site_url}/sitemap.xml"},
                             http=HTTP)
    engine = make_engine(database_url)

    summary = await refresh(settings, engine)

    good = [a for a in corpus.author_ids() if a not in not_loaded]
    assert summary.pages_loaded == sum(corpus.page_count(a) for a in good)
    assert (summary.pages_quarantined, summary.pages_failed) == (len(quarantined), 1)
    assert summary.status == "failed" and summary.retries >= 5 + 1 + 2
    for author in good:
        assert loaded(engine, str(author)) == (len(corpus.authors[author].papers) if author != 1 else 11)
    for author in not_loaded:
        assert loaded(engine, str(author)) == -1
    assert sorted(int(q.url.rsplit("/", 1)[1]) for q in rows(engine, Quarantine)) == sorted(quarantined)
    assert accepted == []
    engine.dispose()


def test_the_fault_matrix_names_every_case_here_and_only_tests_that_exist():
    """docs/faults.md stays true: each case above has its row, and each test a row names is defined."""
    tests = Path(__file__).parents[1]
    matrix = (tests.parent / "docs" / "faults.md").read_text(encoding="utf-8")
    cases = [*(f"transient_faults_are_retried_then_loaded[{k}]" for k in TRANSIENT),
             *(f"fail_the_page_with_a_clear_message[{k}]" for k in PERSISTENT),
             *(f"quarantined_with_their_reason_and_body[{k}]" for k in QUARANTINED)]
    assert [case for case in cases if case not in matrix] == []
    modules = list(tests.rglob("test_*.py"))
    defined = set(re.findall(r"^(?:async )?def (test_\w+)", "".join(p.read_text() for p in modules), re.M))
    files = {p.stem for p in modules}
    assert set(re.findall(r"\b(test_\w+)", matrix)) - defined - files == set()
    assert [path for path in re.findall(r"\btests/[\w/]+\.py", matrix) if not (tests.parent / path).is_file()] == []
