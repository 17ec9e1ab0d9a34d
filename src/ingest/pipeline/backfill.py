"""The backfill job: profiles' past from a web archive, then their live pages to the last (a walk: a refresh
without the page ceiling that loads a chunk of pages at a time, `ingest.pipeline.refresh`).

For each profile, the archive's CDX index lists its captures (after the profile's cursor); each capture's raw body
is read by the source that owns the profile, observed at the capture time, and loaded as an archived page
(`ingest.store.load`: an older capture adds to history, never overwrites the present). Captures load
`captures_per_load` at a time, each load committing the cursors it moves, so a killed backfill resumes where it
stopped and a finished one, run again, reads only captures made since. A capture that cannot be fetched stops its
profile's cursor there (the next backfill asks again); one that cannot be read is quarantined with its body.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import ExitStack
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from ingest.config import ProfilesSettings, Settings
from ingest.dedupe import Precedence
from ingest.failpoint import failpoint
from ingest.http.fetch import Fetcher, FetchError, host_of
from ingest.http.politeness import politeness_for
from ingest.pipeline import archived
from ingest.pipeline.archived import archived_load
from ingest.pipeline.batch import PackedPage
from ingest.pipeline.plan import allowed_hosts
from ingest.pipeline.recording import recording
from ingest.pipeline.refresh import Refresher
from ingest.pipeline.workers import Workers
from ingest.sources import ExtractionError, Origin, ProfileRef, registry
from ingest.store import make_engine, runs
from ingest.store import backfill as cursors
from ingest.store.quarantine import Problem, problem
from ingest.store.tables import IngestRun, RunCounts, utcnow
from ingest.webarchive import cdx, wayback
from ingest.webarchive.cdx import Capture, CdxError

log = logging.getLogger(__name__)

ARCHIVE_KIND = "wayback"


@dataclass(slots=True)
class _Read:
    """One capture of a profile, fetched and extracted (`page`), or what went wrong (`trouble`)."""

    profile: ProfileRef
    capture: Capture
    last: bool  # the profile's newest capture listed
    url: str  # where the archive served it
    page: PackedPage | None = None
    sha256: str | None = None
    trouble: Problem | None = None
    retryable: bool = False


class Backfiller:
    """Owns a backfill's fetcher, workers and engine. Use as `async with Backfiller(settings) as backfiller:`."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.archive = settings.backfill.archive_url.rstrip("/")
        self.engine = engine or make_engine(settings.database_url)
        registry.configure(settings)
        defaults = [*registry.host_defaults(), *wayback.HOST_DEFAULTS]
        self.fetcher = Fetcher(settings.http, allowed_hosts(settings) | {host_of(self.archive)},
                               politeness=lambda host: politeness_for(host, settings.http, defaults))
        self.workers = Workers(self.engine)
        self._closing = ExitStack()
        self._closing.enter_context(recording(settings, "backfill", self.fetcher))
        self.run_id: int | None = None

    async def __aenter__(self) -> Backfiller:
        return self

    async def __aexit__(self, *exc_info) -> None:
        self.workers.close()
        self._closing.close()
        await self.fetcher.__aexit__(*exc_info)

    async def run(self, profiles: list[ProfileRef], progress: Callable[[int, int], None] | None = None,
                  run_batch: Callable[[list[ProfileRef]], Awaitable[RunCounts]] | None = None) -> IngestRun:
        """Backfill `profiles` from the archive, `batch_size` profiles at a time (by `run_batch`: `backfill_batch`,
        or the flow's task around it); recorded as a run of kind `backfill`. `progress` is called with (profiles
        done, profiles in all)."""
        run_batch = run_batch or self.backfill_batch
        self.fetcher.allowed_hosts = (self.fetcher.allowed_hosts or frozenset()) | {host_of(p.url) for p in profiles}
        started = time.perf_counter()
        run = runs.start(self.engine, self.settings.run_lease_s, kind="backfill")
        self.run_id = run.id
        counts = RunCounts()
        size = self.settings.batch_size
        try:
            for start in range(0, len(profiles), size):
                counts.add(await run_batch(profiles[start: start + size]))
                if progress:
                    progress(min(start + size, len(profiles)), len(profiles))
        except BaseException:
            counts.retries = self.fetcher.retries
            runs.finish(self.engine, run, counts, started, status="failed")
            raise
        counts.retries = self.fetcher.retries
        return runs.finish(self.engine, run, counts, started)

    async def backfill_batch(self, profiles: list[ProfileRef]) -> RunCounts:
        """Read and load the captures of one batch of profiles after their cursors; returns its counts."""
        run_id, counts = self.run_id, RunCounts()
        done = await asyncio.to_thread(cursors.cursors, self.engine, [p.url for p in profiles], self.archive)
        listed = await asyncio.gather(*(self._captures(p, done.get(p.url)) for p in profiles), return_exceptions=True)
        work: list[tuple[int, ProfileRef, Capture, bool]] = []  # (its place among the profile's, ..., last)
        failures: list[Problem] = []
        caught_up: list[str] = []
        for profile, found in zip(profiles, listed):
            if isinstance(found, (FetchError, CdxError)):
                log.warning("%s: the archive's index did not answer (%s)", profile.url, found)
                failures.append(problem(profile.url, found))
            elif isinstance(found, BaseException):
                raise found
            elif not found:
                caught_up.append(profile.url)
            else:
                counts.pages_fetched += 1
                work += [(i, profile, capture, i == len(found) - 1) for i, capture in enumerate(found)]
        counts.pages_failed += len(failures)
        await asyncio.to_thread(self._settle, caught_up, failures, run_id)
        # Each profile's first captures, then their second ones...: a load holds few captures of one profile, and
        # each profile's captures still load oldest first. A load with one profile twice must load it in turns.
        work.sort(key=lambda item: item[0])
        stuck: set[str] = set()  # profiles with a capture that failed: their cursor stays before it
        step = self.settings.backfill.captures_per_load
        loading: asyncio.Future[RunCounts] | None = None  # the chunk before, loading while this one is fetched
        try:
            for start in range(0, len(work), step):
                chunk = [item[1:] for item in work[start: start + step] if item[1].url not in stuck]
                reads = await asyncio.gather(*(self._read(*item) for item in chunk))
                good: list[_Read] = []
                for read in reads:
                    if read.profile.url in stuck:
                        continue
                    if read.retryable:
                        stuck.add(read.profile.url)
                    good.append(read)
                if loading is not None:  # loads go one after the other, in order: cursors only move forward
                    counts.add(await loading)
                loading = asyncio.ensure_future(self.workers.with_engine(
                    _load, good, run_id, self.archive, self.settings.precedence, self.settings.archive.level))
        finally:
            if loading is not None:
                counts.add(await loading)
        return counts

    async def _captures(self, profile: ProfileRef, after: str | None) -> list[Capture]:
        backfill = self.settings.backfill
        return await wayback.captures(self.fetcher, self.archive, profile.url, after=after, since=backfill.since,
                                      until=backfill.until, limit=backfill.max_captures)

    async def _read(self, profile: ProfileRef, capture: Capture, last: bool) -> _Read:
        source = registry.get(profile.source)
        read = _Read(profile, capture, last, cdx.raw_capture_url(self.archive, capture))
        try:
            fetched = await wayback.body(self.fetcher, self.archive, capture, source.content_types)
            origin = Origin(capture.original, capture.captured_at, fetched.content_sha256)
            read.page = await self.workers.extract(source.name, fetched.body, origin, None)
            read.sha256 = fetched.content_sha256
        except FetchError as exc:
            read.trouble, read.retryable = problem(read.url, exc), exc.retryable
        except ExtractionError as exc:
            read.trouble = problem(read.url, exc, fetched.body)
        else:
            if not read.page.has_author:
                read.trouble, read.page = Problem(read.url, "malformed", "the capture shows no author",
                                                  fetched.body), None
        return read

    def _settle(self, caught_up: list[str], failures: list[Problem], run_id: int) -> None:
        now = utcnow()
        with self.engine.begin() as conn:
            cursors.finish(conn, self.archive, caught_up, now)
            runs.record_failures(conn, run_id, failures, now)


def _load(engine: Engine, reads: list[_Read], run_id: int, archive: str, precedence: Precedence, level: int
          ) -> RunCounts:
    """Load a chunk's captures, quarantine what could not be read and move the cursors, in one transaction (in a
    worker process: the event loop goes on fetching the next chunk)."""
    loads = [archived_load(r.profile, [(r.url, r.sha256, r.page.unpack())], ARCHIVE_KIND)
             for r in reads if r.page is not None]
    moves: dict[str, cursors.Advance] = {}
    for r in reads:
        if r.retryable:
            continue
        before = moves.get(r.profile.url)
        moves[r.profile.url] = cursors.Advance(r.profile.url, r.capture.timestamp,
                                               (before.captures if before else 0) + (r.page is not None), r.last)
    failed = [r.trouble for r in reads if r.retryable]
    quarantined = [r.trouble for r in reads if r.trouble is not None and not r.retryable]
    for trouble in [*quarantined, *failed]:
        log.warning("%s %s: %s", trouble.url, trouble.reason, trouble.detail)
    counts = archived.write(engine, loads, run_id, precedence=precedence, level=level, quarantined=quarantined,
                            failed=failed, also=lambda conn: cursors.advance(conn, archive, moves.values(), utcnow()))
    counts.pages_fetched += len(reads) - sum(not t.requested for t in failed)
    failpoint("backfill_loaded")
    return counts


async def backfill(settings: Settings, urls: list[str], engine: Engine | None = None,
                   progress: Callable[[int, int], None] | None = None) -> list[IngestRun]:
    """Backfill the profiles `urls` name with the library alone (no Prefect): their captures in the archive
    (`[backfill]`), then, with `backfill.live`, their live pages to the last. Returns the runs (`backfill`, then
    `walk`). Raises `UnclaimedURL` before anything starts when a URL is no source's profile."""
    profiles = list({ref.url: ref for ref in map(registry.profile, urls)}.values())
    engine = engine or make_engine(settings.database_url)
    async with Backfiller(settings, engine) as backfiller:
        done = [await backfiller.run(profiles, progress)]
    if settings.backfill.live:
        async with live_walker(settings, [p.url for p in profiles], engine) as walker:
            done.append(await walker.run())
    return done


def live_walker(settings: Settings, urls: list[str], engine: Engine) -> Refresher:
    """The refresher of a backfill's live walk of `urls`: the backfill's page ceiling and WARC switch, loading
    `pages_per_chunk` pages at a time."""
    walk = settings.model_copy(update={"profiles": ProfilesSettings(urls=urls),
                                       "max_pages_per_profile": settings.backfill.max_pages,
                                       "warc": settings.warc.model_copy(update={"refresh": settings.warc.backfill})})
    return Refresher(walk, engine, chunk_pages=settings.backfill.pages_per_chunk)
