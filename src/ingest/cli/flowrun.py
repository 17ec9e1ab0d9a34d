"""Running the refresh flow from the command line: a Prefect API for it, progress while it runs, and a clean
stop on Ctrl-C or SIGTERM.

Signals: a terminal's Ctrl-C reaches every process of the group. While a run goes, SIGINT and SIGTERM are
blocked in this process (and so in the threads and worker processes it starts) and taken by one thread with
`sigwait`, so neither Python's default handler, asyncio's nor Prefect's (which turns SIGTERM into a crashed
flow run) ever sees them. The first asks the refresh to stop (`pipeline.refresh.stop_hook`): no further batch,
the profiles being fetched are abandoned, the writes under way commit, the run is recorded as `interrupted`.
The second stops at once. The local Prefect server runs in a session of its own, so it outlives the Ctrl-C
long enough to record the end of the flow run, and is stopped after it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from importlib import import_module
from multiprocessing import resource_tracker
from pathlib import Path

from ingest.cli.app import console, err, options, quiet_prefect
from ingest.config import Settings
from ingest.shards import Shard

SIGNALS = {signal.SIGINT, signal.SIGTERM}
PROGRESS_EVERY_S = 10.0  # off a terminal: a progress line this often


def run_refresh(settings: Settings, config: Path | None, urls: list[str] | None, sitemap: str | None,
                source: str | None, shard: Shard, registry: str | None = None):
    """Run the refresh flow in this process; returns (the run's summary, the signal that stopped it or None)."""
    quiet_prefect()
    from ingest.flows.local_server import prefect_api

    with ExitStack() as stack:
        with _status("starting Prefect"):
            server = stack.enter_context(prefect_api(
                settings.prefect_home(), settings.prefect_server_keep_s,
                {"PREFECT_UI_ENABLED": "false"}, meanwhile=lambda: import_module("ingest.flows.refresh_profiles")))
        with _StopOnSignals(server.pid) as signals:
            summary = asyncio.run(_run(config, urls, sitemap, source, shard, registry, signals))
        return summary, signals.received


async def _run(config, urls, sitemap, source, shard, registry, signals: _StopOnSignals):
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    from ingest.flows.refresh_profiles import refresh_profiles
    from ingest.pipeline.refresh import stop_hook

    stop = asyncio.Event()
    signals.stops(asyncio.get_running_loop(), stop)
    token = stop_hook.set(stop)
    try:
        with _progress():
            return await refresh_profiles(urls=urls or None, sitemap=sitemap, source=source, registry=registry,
                                          config=str(config) if config else None, shard=shard.index,
                                          shards=shard.count)
    finally:
        stop_hook.reset(token)
        # Deliver the flow run's last events and logs while the server still listens: both at once, so a
        # stopping run waits for the slower of the two, not their sum.
        await asyncio.gather(asyncio.to_thread(EventsWorker.drain_all, timeout=5),
                             asyncio.to_thread(APILogWorker.drain_all, timeout=5))


class _StopOnSignals:
    """While in use, SIGINT and SIGTERM are taken by a thread: the first sets the run's stop event, the second
    ends the process at once (stopping the local Prefect server first)."""

    def __init__(self, server_pid: int | None) -> None:
        self.received: int | None = None
        self._server_pid = server_pid
        self._stop: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None
        self._previous: set[signal.Signals] = set()

    def stops(self, loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
        self._stop = (loop, stop)

    def _wait(self) -> None:
        self.received = first = signal.sigwait(SIGNALS)
        err.print(f"{signal.Signals(first).name}: stopping after the writes under way; again to stop at once",
                  markup=False)
        if self._stop is not None:
            loop, stop = self._stop
            loop.call_soon_threadsafe(stop.set)
        signal.sigwait(SIGNALS)
        err.print("stopped at once: the batches being written are rolled back", markup=False)
        if self._server_pid is not None:
            os.kill(self._server_pid, signal.SIGTERM)
        os._exit(128 + first)

    def __enter__(self) -> _StopOnSignals:
        # multiprocessing's resource tracker, started with the first worker pool, unblocks SIGINT and SIGTERM in
        # the thread that starts it (CPython's resource_tracker.ensure_running): start it before blocking them.
        resource_tracker.ensure_running()
        self._previous = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        threading.Thread(target=self._wait, name="ingest-signals", daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        # Once stopping, the signals stay with the thread until the process exits: a second Ctrl-C that comes
        # as the run winds down still stops at once, instead of a KeyboardInterrupt in the interpreter's exit.
        if self.received is None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._previous)


@contextmanager
def _status(what: str) -> Iterator[None]:
    """A spinner with `what` on a terminal (Prefect takes seconds to start); nothing elsewhere."""
    if options.quiet or not console.is_terminal:
        yield
        return
    with console.status(what):
        yield


@contextmanager
def _progress() -> Iterator[None]:
    """A progress bar on a terminal; off one, a line on stderr every PROGRESS_EVERY_S; nothing with --quiet."""

    if options.quiet:
        yield
        return
    if console.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("profiles"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[pages]} pages"),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task("refresh", total=None, pages=0)
            with _hooked(lambda done, total, pages: bar.update(task, completed=done, total=total, pages=pages)):
                yield
        return
    started, last = time.monotonic(), [0.0]

    def line(done: int, total: int, pages: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S or done == total:
            last[0] = now
            err.print(f"progress: {done:,}/{total:,} profiles, {pages:,} pages, {now - started:.0f} s", markup=False)

    with _hooked(line):
        yield


@contextmanager
def _hooked(hook: Callable[[int, int, int], None]) -> Iterator[None]:
    from ingest.pipeline.refresh import progress_hook

    token = progress_hook.set(hook)
    try:
        yield
    finally:
        progress_hook.reset(token)
