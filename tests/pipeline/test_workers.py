"""Work in the worker processes gives what the same work in this process gives, errors included."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from ingest.pipeline.workers import Workers
from ingest.site.corpus import Corpus
from ingest.sources import BlockedPage, ExtractionError, LayoutChanged, Origin
from ingest.store import archive
from tests.conftest import ROOT, SEEN, seed_html
from tests.conftest import read_page as extract

URL = "http://127.0.0.1:8740/author/1"


async def in_worker(pool: Workers, body: bytes, url: str = URL, level: int | None = None):
    return await pool.extract("scholarfeed", body, Origin.of(url, body, SEEN), level)


@pytest.fixture
def pool():
    pool = Workers(workers=1)
    yield pool
    pool.close()


async def test_pages_equal_those_extracted_in_process(pool):
    corpus = Corpus(3, page_size=5, mean_papers=12)
    pages = [(URL, seed_html().encode())] + [
        (f"http://127.0.0.1:8740/author/{a}?page={p}", corpus.render(a, p).encode())
        for a in corpus.author_ids()[1:] for p in range(1, corpus.page_count(a) + 1)
    ]
    for url, body in pages:
        assert (await in_worker(pool, body, url)).unpack() == extract(body, url)


async def test_a_worker_compresses_the_body_for_the_archive_when_asked(pool):
    body = seed_html().encode()
    packed = await in_worker(pool, body, level=3)
    assert archive.unpack(packed.archived) == body and packed.body_size == len(body)
    assert len(packed.archived) < len(body) / 2  # prose: ~2.8 times smaller; the corpus's pages ~5


@pytest.mark.parametrize(("html", "error", "reason"), [
    (seed_html().replace('class="paper-list"', 'class="papers-grid"'), LayoutChanged, "layout_changed"),
    ("<html><body>Please verify you are human</body></html>", BlockedPage, "blocked"),
    (seed_html().replace("<dd>6,445</dd>", "<dd>lots</dd>"), ExtractionError, "malformed"),
])
async def test_extraction_errors_cross_the_process_boundary_intact(pool, html, error, reason):
    with pytest.raises(error) as raised:
        await in_worker(pool, html.encode())
    assert type(raised.value) is error and raised.value.reason == reason
    with pytest.raises(error) as local:
        extract(html.encode(), URL)
    assert (raised.value.detail, str(raised.value)) == (local.value.detail, str(local.value))
    assert getattr(raised.value, "missing", None) == getattr(local.value, "missing", None)


async def test_a_killed_worker_fails_the_pages_in_flight_and_the_next_page_gets_a_new_pool(pool):
    body = seed_html().encode()
    await in_worker(pool, body)
    for process in list(pool._pool._processes.values()):
        process.kill()
        process.join()
    with pytest.raises(BrokenProcessPool):
        await in_worker(pool, body)
    assert (await in_worker(pool, body)).unpack() == extract(body, URL)


def test_workers_do_not_outlive_a_run_killed_with_sigkill(tmp_path):
    script = (
        "import asyncio, os, signal\n"
        "from ingest.pipeline.workers import Workers\n"
        "from tests.pipeline.test_workers import in_worker\n"
        "from tests.conftest import seed_html\n"
        "pool = Workers(workers=1)\n"
        "asyncio.run(in_worker(pool, seed_html().encode()))\n"
        "print(*[p.pid for p in pool._pool._processes.values()], flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    child = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stderr
    (worker,) = map(int, child.stdout.split())
    for _ in range(100):  # the kernel signals the orphan at once; give it a moment to go
        if not Path(f"/proc/{worker}").exists() or "Z" in Path(f"/proc/{worker}/stat").read_text().split()[2]:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"worker {worker} outlived its killed parent")
