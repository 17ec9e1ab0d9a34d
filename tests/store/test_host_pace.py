"""Request spacing per host shared through the database: across engines, across worker processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from ingest.site.corpus import Corpus
from ingest.site.server import Site, serve_in_thread
from ingest.store import make_engine
from ingest.store.host_pace import SharedPace


async def test_reservations_from_two_engines_are_spaced_one_interval_apart(database_url):
    interval = 10.0  # only reserved here, never waited for: a long interval makes the arithmetic exact
    workers = [SharedPace(make_engine(database_url), interval) for _ in range(2)]
    delays = [await workers[n % 2].reserve("a.example") for n in range(6)]
    # Each waits one interval longer than the one before, whichever worker reserved it.
    assert [round(delay / interval) for delay in delays] == [0, 1, 2, 3, 4, 5]
    assert all(abs(delay - n * interval) < 1.0 for n, delay in enumerate(delays))
    assert await workers[0].reserve("b.example") == 0.0  # hosts are paced apart


async def test_once_the_interval_has_passed_a_request_need_not_wait(database_url):
    pace = SharedPace(make_engine(database_url), 0.05)
    await pace.reserve("a.example")
    await asyncio.sleep(0.1)
    assert await pace.reserve("a.example") == 0.0


# A worker process: the library's refresh of one shard, started once both workers are up.
WORKER = """
import asyncio, pathlib, sys, time
from ingest.config import load_settings
from ingest.pipeline.refresh import refresh
from ingest.shards import Shard

here, n, sitemap = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
settings = load_settings(None, profiles={"sitemap": sitemap})
(here / f"ready-{n}").touch()
for _ in range(3000):
    if len(list(here.glob("ready-*"))) == 2:
        break
    time.sleep(0.01)
summary = asyncio.run(refresh(settings, shard=Shard(n, 2)))
sys.exit(1 if summary.pages_failed else 0)
"""


def request_times(site: Site, user_agent: str) -> list[float]:
    return [at for at, _, headers in site.requests if headers.get("user-agent") == user_agent]


@pytest.mark.postgres
@pytest.mark.parametrize("scope", ["database", "process"])
def test_two_workers_together_keep_a_hosts_rate_only_when_paced_through_the_database(pg_url, tmp_path, scope):
    # 10 requests a second to the host: slow enough that neither worker is held back by the CPU (each runs with
    # its own extraction processes, on a machine of two cores), so the control shows their two paces adding up.
    interval = 0.1
    site = Site(Corpus(40, page_size=20, mean_papers=12))  # about 65 pages, split by hash between two workers
    make_engine(pg_url).dispose()  # initialised up front, so both workers start alike
    env = os.environ | {"INGEST_DATABASE_URL": pg_url, "INGEST_HTTP__MIN_INTERVAL_S": str(interval),
                        "INGEST_HTTP__MIN_INTERVAL_SCOPE": scope}
    with serve_in_thread(site) as base:
        workers = [
            subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), str(n), f"{base}/sitemap.xml"],
                             env=env | {"INGEST_HTTP__USER_AGENT": f"worker-{n}"},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for n in (1, 2)
        ]
        for worker in workers:
            _, stderr = worker.communicate(timeout=120)
            assert worker.returncode == 0, stderr
    times = [request_times(site, f"worker-{n}") for n in (1, 2)]
    assert all(len(t) > 20 for t in times)
    # Measure only while both were sending: from the later first request to the earlier last one.
    begin, end = max(t[0] for t in times), min(t[-1] for t in times)
    assert end - begin > 1.0, "the workers hardly overlapped"
    inside = sorted(at for t in times for at in t if begin <= at <= end)
    rate, limit = (len(inside) - 1) / (inside[-1] - inside[0]), 1 / interval
    if scope == "database":
        assert rate <= limit * 1.05
    else:  # the control: each worker keeps the rate alone, so together they exceed it (by up to twice; a
        # busy machine slows the workers' own pace, so the bound is well clear of the 1.05 above, not 2)
        assert rate >= limit * 1.25
