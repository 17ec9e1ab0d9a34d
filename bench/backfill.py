"""`python -m bench.backfill [--profiles N] [--database URL]`: backfill N profiles x 5 captures from the bundled
site's archive (the CDX index, each capture's raw body, the loads), archive only (no live walk, no WARC), into a
fresh SQLite file or the given database; prints captures/s, peak RSS and the database's figures.

The site runs in its own process, so its rendering does not count against ours; the backfill runs in this one,
with its extraction workers, as `ingest backfill` would.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from ingest.config import load_settings
from ingest.pipeline.backfill import backfill
from ingest.site import wayback
from ingest.site.corpus import Corpus
from ingest.site.server import Site, serve_forever
from ingest.store import AuthorSnapshot, Paper, make_engine

PORT = 8797


def _serve(profiles: int) -> None:
    serve_forever(Site(Corpus(profiles)), port=PORT)


def _peak_rss_mb() -> float:
    """This process's peak resident set and its children's (the extraction workers), in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=1000)
    parser.add_argument("--database", help="A database URL (default: a fresh SQLite file).")
    args = parser.parse_args()
    site = multiprocessing.Process(target=_serve, args=(args.profiles,), daemon=True)
    site.start()
    time.sleep(1.5)  # the corpus is generated before the server listens
    base = f"http://127.0.0.1:{PORT}"
    with tempfile.TemporaryDirectory() as workdir:
        database = args.database or f"sqlite:///{Path(workdir) / 'backfill.db'}"
        settings = load_settings(None, database_url=database, backfill={"archive_url": base, "live": False},
                                 warc={"backfill": False}, data_dir=workdir)
        urls = [f"{base}/author/{1001 + i}" for i in range(args.profiles)]
        started = time.perf_counter()
        (run,) = asyncio.run(backfill(settings, urls))
        elapsed = time.perf_counter() - started
        engine = make_engine(database)
        with engine.connect() as conn:
            snapshots = conn.execute(select(func.count()).select_from(AuthorSnapshot.__table__)).scalar_one()
            papers = conn.execute(select(func.count()).select_from(Paper.__table__)).scalar_one()
    site.terminate()
    captures = args.profiles * wayback.CAPTURES
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"backfill of {args.profiles:,} profiles x {wayback.CAPTURES} captures ({database.split(':')[0]}): "
          f"run {run.status}, {run.pages_loaded:,}/{captures:,} captures loaded, {run.pages_fetched:,} requests")
    print(f"  {elapsed:.1f} s wall, {run.pages_loaded / elapsed:,.0f} captures/s, "
          f"{(run.pages_fetched) / elapsed:,.0f} requests/s, peak RSS {_peak_rss_mb():,.0f} MB")
    print(f"  {snapshots:,} snapshots, {papers:,} papers")


if __name__ == "__main__":
    main()
