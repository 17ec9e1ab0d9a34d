"""Crash safety: a refresh killed with SIGKILL anywhere, then run again, leaves the database as an
uninterrupted run does: no partial profile, no duplicate, no lost update.

The refresh runs in a subprocess (`python -m tests.refresh_child`, and once the `ingest run` CLI
with Prefect) that dies at a named failpoint (`INGEST_FAILPOINT`, see `ingest.failpoint`) or at a
timed kill; the same site is then refreshed again into the same database.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ingest.config import load_settings
from ingest.pipeline.refresh import refresh
from ingest.site.corpus import Corpus
from ingest.site.server import Site, serve_in_thread
from ingest.store import Author, Authorship, IngestRun, Page, Quarantine, make_engine
from tests.conftest import ROOT
from tests.dbutil import count, natural_dump, rows

INGEST = str(Path(sys.executable).with_name("ingest"))
# Small batches, two at a time: a kill lands with some batches committed and others in flight.
# A short run lease, so the re-run may take the killed run (its heartbeat stopped) as abandoned.
LEASE_S = 0.5
RUN = {"INGEST_BATCH_SIZE": "4", "INGEST_CONCURRENCY": "2", "INGEST_RUN_LEASE_S": str(LEASE_S)}
# Request spacing stretches a run to about a second, so timed kills land inside it.
SLOW = {"INGEST_HTTP__MIN_INTERVAL_S": "0.02"}
NAMED_POINTS = ["fetched:1", "fetched:30", "load_before_commit:1", "load_before_commit:4", "load_committed:1",
                "load_committed:3", "states_saved:2", "batch_done:3"]
ON_POSTGRES = ["fetched:30", "load_before_commit:4", "load_committed:3", "batch_done:3"]  # the suite's time is finite
TIMED_KILLS_S = [0.1, 0.4, 0.7]


@pytest.fixture(scope="module")
def crash_site() -> Iterator[tuple[Site, str]]:
    """One site for the module, so every database holds the same URLs."""
    site = Site(Corpus(30, page_size=20, mean_papers=12))
    with serve_in_thread(site) as url:
        yield site, url


@pytest.fixture(scope="module")
async def uninterrupted(crash_site, tmp_path_factory) -> dict:
    """What one uninterrupted refresh leaves in a fresh database."""
    _, url = crash_site
    database_url = f"sqlite:///{tmp_path_factory.mktemp('baseline') / 'ingest.db'}"
    engine = make_engine(database_url)
    settings = load_settings(None, database_url=database_url, profiles={"sitemap": f"{url}/sitemap.xml"})
    assert (await refresh(settings, engine)).status == "ok"
    dump = natural_dump(engine)
    engine.dispose()
    return dump


def child_env(database_url: str, site_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}
    return env | RUN | {"INGEST_DATABASE_URL": database_url, "INGEST_PROFILES__SITEMAP": f"{site_url}/sitemap.xml",
                        "PYTHONPATH": str(ROOT)} | extra


def run_child(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tests.refresh_child"], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


async def rerun(engine: Engine, database_url: str, site_url: str) -> None:
    """The same refresh again, in this process (recovery needs no fresh process of its own), once the
    killed run's lease has run out."""
    await asyncio.sleep(LEASE_S * 1.2)
    settings = load_settings(None, database_url=database_url, profiles={"sitemap": f"{site_url}/sitemap.xml"},
                             batch_size=4, concurrency=2, run_lease_s=LEASE_S)
    assert (await refresh(settings, engine)).status == "ok"


def assert_whole_profiles_only(engine: Engine, site: Site) -> None:
    """Right after a crash: every author present has their whole listing, and page state exists
    only for profiles whose records landed."""
    for author in rows(engine, Author):
        expected = 11 if author.source_id == "1" else len(site.corpus.authors[int(author.source_id)].papers)
        assert count(engine, Authorship, Authorship.author_id == author.id) == expected, author.source_id
    profiles = {a.profile_url for a in rows(engine, Author)}
    assert {p.profile for p in rows(engine, Page)} <= profiles


def assert_recovered(engine: Engine, uninterrupted: dict) -> None:
    assert natural_dump(engine) == uninterrupted
    assert count(engine, Quarantine) == 0
    statuses = [r.status for r in rows(engine, IngestRun)]
    assert statuses[-1] == "ok" and set(statuses[:-1]) <= {"abandoned"}


@pytest.mark.parametrize(("database_url", "point"), [
    *(("sqlite", p) for p in NAMED_POINTS),
    *(pytest.param("postgresql", p, marks=pytest.mark.postgres) for p in ON_POSTGRES),
], indirect=["database_url"])
async def test_killed_at_a_failpoint_then_rerun_equals_an_uninterrupted_run(crash_site, uninterrupted, database_url,
                                                                            tmp_path, point):
    site, url = crash_site
    killed = run_child(child_env(database_url, url, INGEST_FAILPOINT=point), tmp_path)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    engine = make_engine(database_url)
    assert_whole_profiles_only(engine, site)

    await rerun(engine, database_url, url)
    assert_recovered(engine, uninterrupted)
    engine.dispose()


@pytest.mark.parametrize("after_s", TIMED_KILLS_S)
async def test_killed_at_a_time_then_rerun_equals_an_uninterrupted_run(crash_site, uninterrupted, tmp_path, after_s):
    site, url = crash_site
    database_url = f"sqlite:///{tmp_path / 'ingest.db'}"
    child = subprocess.Popen([sys.executable, "-m", "tests.refresh_child"], env=child_env(database_url, url, **SLOW),
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "started"
    time.sleep(after_s)
    child.kill()
    stdout, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL and "ok" not in stdout  # killed mid-run, not after it
    engine = make_engine(database_url)
    assert_whole_profiles_only(engine, site)

    await rerun(engine, database_url, url)
    assert_recovered(engine, uninterrupted)
    engine.dispose()


def test_the_cli_killed_inside_a_prefect_flow_then_rerun_equals_an_uninterrupted_run(crash_site, uninterrupted,
                                                                                    prefect_api, tmp_path):
    site, url = crash_site
    database_url = f"sqlite:///{tmp_path / 'ingest.db'}"
    env = child_env(database_url, url)
    killed = subprocess.run([INGEST, "run"], env=env | {"INGEST_FAILPOINT": "load_committed:2"}, cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    engine = make_engine(database_url)
    assert 0 < count(engine, Author) < len(site.corpus.author_ids())
    assert_whole_profiles_only(engine, site)

    time.sleep(LEASE_S * 1.2)  # the killed run's lease runs out
    rerun = subprocess.run([INGEST, "run"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert_recovered(engine, uninterrupted)
    engine.dispose()
