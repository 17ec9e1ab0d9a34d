"""Extraction in the worker process gives what extraction in this process gives, errors included."""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool

import pytest

from ingest.extract import BlockedPage, ExtractionError, LayoutChanged
from ingest.extract.pool import ExtractPool
from ingest.extract.profile_site import extract
from ingest.site.corpus import Corpus
from tests.conftest import seed_html

URL = "http://127.0.0.1:8740/author/1"


@pytest.fixture
def pool():
    pool = ExtractPool(workers=1)
    yield pool
    pool.close()


async def test_pages_equal_those_extracted_in_process(pool):
    corpus = Corpus(3, page_size=5, mean_papers=12)
    pages = [(URL, seed_html().encode())] + [
        (f"http://127.0.0.1:8740/author/{a}?page={p}", corpus.render(a, p).encode())
        for a in corpus.author_ids()[1:] for p in range(1, corpus.page_count(a) + 1)
    ]
    for url, body in pages:
        assert await pool.extract(body, url) == extract(body, url)


@pytest.mark.parametrize(("html", "error", "reason"), [
    (seed_html().replace('class="paper-list"', 'class="papers-grid"'), LayoutChanged, "layout_changed"),
    ("<html><body>Please verify you are human</body></html>", BlockedPage, "blocked"),
    (seed_html().replace("<dd>6,445</dd>", "<dd>lots</dd>"), ExtractionError, "malformed"),
])
async def test_extraction_errors_cross_the_process_boundary_intact(pool, html, error, reason):
    with pytest.raises(error) as raised:
        await pool.extract(html.encode(), URL)
    assert type(raised.value) is error and raised.value.reason == reason
    with pytest.raises(error) as local:
        extract(html, URL)
    assert (raised.value.detail, str(raised.value)) == (local.value.detail, str(local.value))
    assert getattr(raised.value, "missing", None) == getattr(local.value, "missing", None)


async def test_a_killed_worker_fails_the_pages_in_flight_and_the_next_page_gets_a_new_pool(pool):
    body = seed_html().encode()
    await pool.extract(body, URL)
    for process in list(pool._pool._processes.values()):
        process.kill()
        process.join()
    with pytest.raises(BrokenProcessPool):
        await pool.extract(body, URL)
    assert await pool.extract(body, URL) == extract(body, URL)
