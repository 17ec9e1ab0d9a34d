"""Extraction on the machine's other cores: a process pool, so parsing never stalls the event loop's fetching.

Workers return plain values (dicts, not records): unpickling a page's pydantic models costs a third of
its extraction, rebuilding them here from already-typed values a tenth.

Workers are forked: they start in milliseconds and, unlike spawned or forkserver workers, never re-import
the caller's `__main__` (an unguarded script would run again in every worker). They run only pure
extraction code, which takes none of the locks another thread of the parent might hold at the fork.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ingest.extract.profile_site import extract
from ingest.records import AuthorRecord, PaperRecord, ProfilePage, construct

_Plain = tuple[dict, list[dict], int, str | None]


def _extract_plain(body: bytes, url: str) -> _Plain:
    page = extract(body, url)
    return dict(page.author.__dict__), [paper.__dict__ for paper in page.papers], page.first_position, page.next_url


def default_workers() -> int:
    """One fewer than the cores this process may use: the event loop keeps one."""
    return max(1, len(os.sched_getaffinity(0)) - 1)


class ExtractPool:
    """`await pool.extract(body, url)` is `profile_site.extract(body, url)`, run in a worker process."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self._pool: ProcessPoolExecutor | None = None  # started on first use: unchanged runs never need it

    async def extract(self, body: bytes, url: str) -> ProfilePage:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("fork"))
        pool = self._pool
        try:
            author, papers, first_position, next_url = await asyncio.get_running_loop().run_in_executor(
                pool, _extract_plain, body, url)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): the pages in flight fail, later ones get a new pool.
            if self._pool is pool:
                self.close()
            raise
        return ProfilePage(construct(AuthorRecord, author), [construct(PaperRecord, p) for p in papers],
                           first_position, next_url)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
