"""Extraction on the machine's other cores: a process pool, so parsing never stalls the event loop's fetching.

Workers return plain values (dicts, not records): unpickling a page's pydantic models costs a third of
its extraction, rebuilding them here from already-typed values a tenth.

Workers are spawned, not forked: a forked worker would inherit every socket the parent holds (its
HTTP connections, its database connections, a site served in-process), so a connection the parent
closes or resets stays open until the worker goes. Like any spawned worker they import the caller's
`__main__` as `__mp_main__`: scripts that use this must guard their entry point with
`if __name__ == "__main__":`, as the `ingest` command and Prefect's workers do.
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ingest.extract.profile_site import extract
from ingest.records import AuthorRecord, PaperRecord, ProfilePage, construct

_Plain = tuple[dict, list[dict], int, str | None]


def _extract_plain(body: bytes, url: str) -> _Plain:
    page = extract(body, url)
    return dict(page.author.__dict__), [paper.__dict__ for paper in page.papers], page.first_position, page.next_url


def _die_with_parent(parent: int) -> None:
    """Worker initializer: a run killed with SIGKILL must not leave its workers behind, holding its
    pipes and memory (Linux: PR_SET_PDEATHSIG; elsewhere they end when their queue breaks)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


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
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_die_with_parent, initargs=(os.getpid(),))
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
