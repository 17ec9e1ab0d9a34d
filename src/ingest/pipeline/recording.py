"""Fetched pages into WARC files, when `[warc]` asks for it for the job at hand."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Literal

from ingest.config import Settings
from ingest.http.fetch import Fetcher


@contextmanager
def recording(settings: Settings, job: Literal["refresh", "backfill"], fetcher: Fetcher) -> Iterator[None]:
    """While in use, every page `fetcher` fetches whole goes to `[warc] directory` (when `[warc] <job>` is on):
    as fetched, at its own URL (credentials in `request_params` are in no URL we keep, so in no record)."""
    if not getattr(settings.warc, job):
        yield
        return
    from ingest.webarchive.warc_writer import WarcWriter  # warcio is imported only by jobs that write

    with WarcWriter(Path(settings.warc.directory), max_bytes=settings.warc.max_bytes,
                    software=f"ingest/{version('ingest')}") as writer:
        fetcher.keep = lambda fetched, request_headers: writer.write(
            fetched.url, status=fetched.status, headers=fetched.headers, body=fetched.body,
            fetched_at=fetched.fetched_at, request_headers=request_headers)
        try:
            yield
        finally:
            fetcher.keep = None
