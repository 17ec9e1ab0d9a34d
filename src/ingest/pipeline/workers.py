"""A run's worker processes: extraction and database writes, off the core the event loop fetches on.

The event loop's process only fetches and walks profiles: extraction returns a `PackedPage` (its
observation stays pickled, its body comes back compressed for the archive), and a batch's write gets
those bytes back and unpacks them in the worker, so no record is ever rebuilt in the event loop's
process. Writes go one at a time: SQLite writers running side by side only wait in its busy handler's
sleeps.

Workers are spawned, not forked: a forked worker would inherit every socket the parent holds (its
HTTP connections, its database connections, a site served in-process), so a connection the parent
closes or resets stays open until the worker goes. Like any spawned worker they import the caller's
`__main__` as `__mp_main__`: scripts that use this must guard their entry point with
`if __name__ == "__main__":`, as the `ingest` command and Prefect's workers do.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from sqlalchemy import Engine

from ingest.dedupe import Precedence
from ingest.failpoint import kill_also
from ingest.pipeline.batch import PackedPage, ProfileOutcome, Written, write
from ingest.sources import Origin, registry
from ingest.store import archive, make_engine

_database: dict[str, Any] = {}  # in a worker: the run's database URL, then its engine, for the worker's life


def _extract_packed(source: str, body: bytes, origin: Origin, archive_level: int | None) -> PackedPage:
    observation = registry.get(source).extract(body, origin)
    return PackedPage.pack(observation, len(body), archive.pack(body, archive_level) if archive_level else None)


def _engine() -> Engine:
    if "engine" not in _database:
        _database["engine"] = make_engine(_database["url"], check=False)  # the run checked it
    return _database["engine"]


def _with_engine(function: Callable[..., Any], *args: Any) -> Any:
    return function(_engine(), *args)


def _start_worker(parent: int, database_url: str) -> None:
    """Worker initializer. The database URL arrives once, here, not with every batch. Signals are the run's to
    handle. The modules imported
    so far live as long as the worker: frozen, they drop out of the garbage collector's full scans, which a
    batch's many objects set off. A run killed with SIGKILL must not leave its workers behind, holding its
    pipes and memory (Linux: PR_SET_PDEATHSIG; elsewhere they end when their queue breaks). A failpoint hit
    in a worker kills the run too: the crash tests mean the run."""
    _database["url"] = database_url
    # The run decides when its workers stop: a terminal's Ctrl-C (sent to the whole process group) or a SIGTERM
    # must not break a batch's write half-way; the run lets it finish, and if the run dies they die with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    gc.freeze()
    kill_also(parent)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def default_workers() -> int:
    """As many as the cores this process may use: fetching takes the event loop a fraction of a core,
    so a worker per core keeps every core busy."""
    return len(os.sched_getaffinity(0))


class Workers:
    """`await workers.extract(...)` is a source's `extract`, packed, run in a worker process;
    `await workers.write(outcomes, run_id, level, precedence)` is `batch.write` into `engine`'s database, one at a time
    (workers made without an engine only extract)."""

    def __init__(self, engine: Engine | None = None, workers: int | None = None) -> None:
        self.engine = engine
        self.workers = workers or default_workers()
        self._write_lock = asyncio.Lock()
        self._pool: ProcessPoolExecutor | None = None  # started on first use: unchanged runs never need it

    async def extract(self, source: str, body: bytes, origin: Origin, archive_level: int | None) -> PackedPage:
        """The page's observation, packed; its body compressed at `archive_level` (None: not archived)."""
        return await self._run(_extract_packed, source, body, origin, archive_level)

    async def write(self, outcomes: list[ProfileOutcome], run_id: int | None, level: int,
                    precedence: Precedence) -> Written:
        async with self._write_lock:
            if any(outcome.extracted for outcome in outcomes):
                return await self._run(_with_engine, write, outcomes, run_id, level, precedence)
            # Page states and quarantine only: not worth starting a worker for.
            return await asyncio.to_thread(write, self.engine, outcomes, run_id, level, precedence)

    async def with_engine(self, function: Callable[..., Any], *args: Any) -> Any:
        """`function(engine, *args)` in a worker, one at a time like the writes: `function` is a module-level
        function (it is pickled by name), its arguments plain data."""
        async with self._write_lock:
            return await self._run(_with_engine, function, *args)

    async def _run(self, function, *args) -> Any:
        if self._pool is None:
            url = self.engine.url.render_as_string(hide_password=False) if self.engine is not None else ""
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start_worker, initargs=(os.getpid(), url))
        pool = self._pool
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, function, *args)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): the work in flight fails, later work gets a new pool.
            if self._pool is pool:
                self.close()
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
