"""Shared fixtures: the seed page, the bundled site on loopback, and real databases.

`database_url` runs a test on a fresh SQLite file and on a fresh schema of the PostgreSQL at
127.0.0.1:5432 (database `test`). An unreachable PostgreSQL fails those tests: it never skips them.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine

from ingest.config import Settings, load_settings
from ingest.flows.local_server import free_port as _free_port
from ingest.records import Observation
from ingest.site.corpus import Corpus
from ingest.site.server import Site, serve_in_thread
from ingest.sources import Origin
from ingest.store import make_engine
from tests.dbutil import scratch_schema

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SEED_TEXT_PATH = FIXTURES / "scholarfeed-author-1.txt"  # the seed page's visible text, copied verbatim
PG_URL = os.environ.get("INGEST_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# Property tests: a bounded number of examples (CI's time is finite), no per-example deadline
# (a loaded machine is not a bug), no example database (tests run in temporary directories).
# HYPOTHESIS_PROFILE=thorough explores ten times as much.
hypothesis_settings.register_profile("ci", max_examples=150, deadline=None, database=None,
                                     suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.register_profile("thorough", hypothesis_settings.get_profile("ci"), max_examples=1500)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


SEEN = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)  # when the pages read by `read_page` were "fetched"


def seed_html() -> str:
    return (FIXTURES / "scholarfeed-author-1.html").read_text(encoding="utf-8")


def read_page(body: str | bytes, url: str, seen: datetime = SEEN) -> Observation:
    """A Scholar Feed page read by its source, as fetched from `url` at `seen`."""
    from ingest.sources.scholarfeed import SOURCE

    body = body.encode() if isinstance(body, str) else body
    return SOURCE.extract(body, Origin.of(url, body, seen))


@pytest.fixture(autouse=True)
def _isolated_config(monkeypatch, tmp_path):
    """Tests never pick up the developer's config file or INGEST_* variables. A command that finds no Prefect
    server would keep the one it starts for minutes after its test: tests that mean a kept server say so."""
    for name in list(os.environ):
        if name.startswith("INGEST_") and name != "INGEST_TEST_PG_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("INGEST_PREFECT_SERVER_KEEP_S", "0")
    monkeypatch.chdir(tmp_path)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ingest.db'}"
        return
    with scratch_schema(PG_URL, "t") as url:
        yield url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """PostgreSQL only, for what SQLite cannot do: several writers at once, several machines. Mark tests `postgres`."""
    with scratch_schema(PG_URL, "t") as url:
        yield url


@pytest.fixture
def engine(database_url) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def site() -> Site:
    """A small corpus: 30 generated profiles (some paginated, page size 20) plus the seed author."""
    return Site(Corpus(30, page_size=20, mean_papers=12))


@pytest.fixture
def site_url(site) -> Iterator[str]:
    with serve_in_thread(site) as url:
        yield url


@pytest.fixture
def settings(database_url, site_url) -> Settings:
    return load_settings(None, database_url=database_url, profiles={"sitemap": f"{site_url}/sitemap.xml"},
                         http={"backoff_base_s": 0.01, "backoff_max_s": 0.05})

@pytest.fixture
def other_host():
    """A listener on 127.0.0.2 that counts the connections it receives."""
    listener = socket.create_server(("127.0.0.2", 0))
    accepted = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.2:{listener.getsockname()[1]}", accepted
    listener.close()

# The session's Prefect server looks for due schedules every second (default: a minute), so tests of
# schedules wait seconds, not minutes.
PREFECT_SERVER_ENV = {"PREFECT_UI_ENABLED": "false", "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "1",
                      "PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS": "1"}


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory) -> Iterator[str]:
    """One Prefect server for the whole session (a temporary one costs seconds per process)."""
    from ingest.flows.local_server import local_server

    previous = os.environ.get("PREFECT_API_URL")
    with local_server(tmp_path_factory.mktemp("prefect-home"), _free_port(), PREFECT_SERVER_ENV) as (url, _):
        os.environ["PREFECT_API_URL"] = url  # for subprocesses
        # Prefect reads its settings when imported: point this process at the server too.
        from prefect.settings import PREFECT_API_URL, temporary_settings

        try:
            with temporary_settings({PREFECT_API_URL: url}):
                yield url
        finally:
            if previous is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = previous
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=5)  # before the server goes, or the handler complains at exit
