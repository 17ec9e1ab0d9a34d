"""The refresh job: plan profiles, fetch them in batches, extract, load, and keep the run's books.

Works on its own (`await Refresher(settings).run()`); the Prefect flow wraps `refresh_batch` in a task
and passes it to `run`, so both paths share every line of the job. Nothing here knows a site: each
profile's source (`ingest.sources`) says what to fetch, what it accepts and how to read it.

With `chunk_pages`, it is a backfill's live walk (run kind `walk`): each profile's pages load `chunk_pages` at a
time as they are walked, so a listing of any length is held one chunk at a time and a killed walk resumes at its
next page (`ingest.pipeline.walk`, `ingest.store.walks`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import ExitStack, nullcontext
from contextvars import ContextVar
from urllib.parse import urlsplit

from sqlalchemy import Engine, Row

from ingest.config import Settings
from ingest.failpoint import failpoint
from ingest.http.fetch import Fetched, Fetcher, FetchError, Validators, host_of
from ingest.pipeline.batch import Extracted, ProfileOutcome, authorless, hold_shrunk, tally
from ingest.pipeline.breaker import Breaker
from ingest.pipeline.enrich import enrich
from ingest.pipeline.people import link_people
from ingest.pipeline.plan import Plan, PlanError, allowed_hosts, plan, registered_profiles
from ingest.pipeline.recording import recording
from ingest.pipeline.walk import Walk
from ingest.pipeline.workers import Workers
from ingest.shards import WHOLE, Shard
from ingest.sources import ExtractionError, Origin, ProfileRef, Source, registry
from ingest.store import host_blocks, make_engine, pages, quarantine, runs, walks
from ingest.store.host_pace import SharedPace
from ingest.store.pages import PageState
from ingest.store.quarantine import Problem, problem
from ingest.store.tables import IngestRun, RunCounts, utcnow

log = logging.getLogger(__name__)

# Called with (profiles done, profiles planned, pages done) as profiles finish: the CLI's progress bar.
progress_hook: ContextVar[Callable[[int, int, int], None] | None] = ContextVar("progress_hook", default=None)
# Set to ask a running refresh to stop (the CLI's Ctrl-C and SIGTERM): it starts no further batch, abandons the
# profiles still being fetched (nothing of them is written), lets the writes under way commit, and records the
# run as `interrupted`.
stop_hook: ContextVar[asyncio.Event | None] = ContextVar("stop_hook", default=None)


def _state(profile: ProfileRef, fetched: Fetched) -> PageState:
    return PageState(fetched.url, profile.url, profile.source, fetched.etag, fetched.last_modified,
                     fetched.content_sha256, fetched.status, fetched.fetched_at)


class Refresher:
    """Owns a run's fetcher, workers and engine. Use as `async with Refresher(settings) as refresher:`."""

    def __init__(self, settings: Settings, engine: Engine | None = None, shard: Shard = WHOLE,
                 chunk_pages: int | None = None) -> None:
        self.settings = settings
        self.shard = shard
        self.chunk_pages = chunk_pages
        self.engine = engine or make_engine(settings.database_url)
        registry.configure(settings)
        shared = settings.http.min_interval_scope == "database"
        reserve = SharedPace(self.engine, settings.http.min_interval_s).reserve if shared else None
        self.breaker = Breaker(settings.blocks.cooldown_s)
        self.fetcher = Fetcher(settings.http, allowed_hosts(settings), reserve, registry.politeness(settings.http),
                               self.breaker.why_closed)
        self.workers = Workers(self.engine)
        self._closing = ExitStack()
        self._closing.enter_context(recording(settings, "refresh", self.fetcher))
        self.archive_level = settings.archive.level if settings.archive.enabled else None
        self._done = [0, 0]
        self._total = 0
        self._stopping = False
        self._walks: set[asyncio.Task] = set()  # profiles being fetched and extracted
        # A banning source's profiles are walked one at a time per host, each page read before the next request:
        # a block page must close the host's breaker before anything else is asked of it.
        self._turns: dict[str, asyncio.Lock] = {}
        self.run_id: int | None = None

    async def __aenter__(self) -> Refresher:
        return self

    async def __aexit__(self, *exc_info) -> None:
        self.workers.close()
        self._closing.close()
        await self.fetcher.__aexit__(*exc_info)

    def stop(self) -> None:
        """Start no further batch and abandon the profiles being fetched; writes under way finish."""
        self._stopping = True
        for walk in self._walks:
            walk.cancel()

    async def _stop_when(self, requested: asyncio.Event) -> None:
        await requested.wait()
        self.stop()

    async def _heartbeat(self, run_id: int) -> None:
        """Tell overlapping runs this one is alive, until cancelled."""
        while True:
            await asyncio.sleep(self.settings.run_lease_s / 4)
            try:
                await asyncio.to_thread(runs.beat, self.engine, run_id)
            except Exception:  # a missed beat only risks being taken as dead; the run goes on
                log.warning("run %d: heartbeat failed", run_id, exc_info=True)

    async def run(
        self,
        run_batch: Callable[[list[ProfileRef]], Awaitable[RunCounts]] | None = None,
        on_plan: Callable[[Plan], None] | None = None,
    ) -> IngestRun:
        """Record the run, plan it, refresh its profiles in batches (at most `concurrency` at once); returns
        the run summary. A run that cannot be planned is recorded as failed, with why, and raises `PlanError`."""
        run_batch = run_batch or self.refresh_batch
        started = time.perf_counter()
        run = runs.start(self.engine, self.settings.run_lease_s, kind="walk" if self.chunk_pages else "refresh",
                         shard=self.shard)
        self.run_id = run.id
        counts = RunCounts()
        helpers = [asyncio.create_task(self._heartbeat(run.id))]
        if (requested := stop_hook.get()) is not None:
            helpers.append(asyncio.create_task(self._stop_when(requested)))
        try:
            self.breaker.blocked_until.update(await asyncio.to_thread(host_blocks.still_blocked, self.engine, utcnow()))
            listed = await asyncio.to_thread(self._registered)
            if self.fetcher.allowed_hosts is not None:  # registered profiles are the user's, like configured ones
                self.fetcher.allowed_hosts |= {host_of(ref.url) for ref in listed}
            planned = await plan(self.settings, self.fetcher, self.shard, listed)
            if on_plan:
                on_plan(planned)
            if planned.unclaimed:
                await asyncio.to_thread(self._quarantine_unclaimed, planned.unclaimed)
                counts.pages_quarantined += len(planned.unclaimed)
            await self._refresh(planned.profiles, run_batch, counts)
            if self.settings.arxiv.enrich and self.shard.index == 1 and not self._stopping:  # one shard asks
                counts.add(await enrich(self.settings, self.engine, self.fetcher, run.id))
            if self.shard.index == 1 and not self._stopping and counts.authors_inserted + counts.authorships_changed:
                await asyncio.to_thread(link_people, self.settings, self.engine)  # new profiles, or papers moved
        except PlanError as exc:
            runs.finish(self.engine, run, counts, started, status="failed", detail=str(exc))
            raise
        except BaseException:  # interrupted: keep what the run counted so far
            counts.retries = self.fetcher.retries
            runs.finish(self.engine, run, counts, started, status="failed")
            raise
        finally:
            for helper in helpers:
                helper.cancel()
        counts.retries = self.fetcher.retries
        return runs.finish(self.engine, run, counts, started, status="interrupted" if self._stopping else None)

    async def _refresh(self, profiles: Sequence[ProfileRef], run_batch, counts: RunCounts) -> None:
        self._total = len(profiles)
        size = self.settings.batch_size
        batches = [list(profiles[i: i + size]) for i in range(0, len(profiles), size)]
        slots = asyncio.Semaphore(self.settings.concurrency)

        async def one(batch: list[ProfileRef]) -> None:
            async with slots:
                if self._stopping:
                    return
                try:
                    counts.add(await run_batch(batch))
                    failpoint("batch_done")
                except Exception:  # the batch's own retries are spent: count its pages, go on
                    log.exception("batch of %d profiles failed", len(batch))
                    counts.pages_failed += len(batch)

        await asyncio.gather(*(one(b) for b in batches))

    def _quarantine_unclaimed(self, urls: list[str]) -> None:
        """Sitemap URLs that are no source's profile: quarantined (`no_source`), so the run says so."""
        why = f"no source claims this URL ({', '.join(registry.all_sources())})"
        for url in urls:
            log.warning("%s no_source: %s", url, why)
        with self.engine.begin() as conn:
            quarantine.add(conn, [Problem(url, "no_source", why) for url in urls], self.run_id, utcnow(),
                           self.settings.archive.level)

    # -- one batch -----------------------------------------------------------------------------
    async def refresh_batch(self, profiles: list[ProfileRef]) -> RunCounts:
        """Fetch, extract and load one batch of profiles; returns its counts."""
        known = await asyncio.to_thread(self._known_pages, [p.url for p in profiles])
        chunked = await asyncio.to_thread(self._chunked_walks, profiles) if self.chunk_pages else {}
        walks = [asyncio.create_task(self._refresh_profile(p, known.get(p.url, []), chunked.get(p.url)))
                 for p in profiles]
        self._walks.update(walks)
        try:
            ended = await asyncio.gather(*walks, return_exceptions=True)
        finally:
            self._walks.difference_update(walks)
        outcomes, loaded = [], RunCounts()
        for outcome in ended:
            # A walk cancelled by a stop before its first step never reached its own handler: abandoned whole.
            if isinstance(outcome, asyncio.CancelledError) and self._stopping:
                continue
            if isinstance(outcome, BaseException):
                raise outcome
            loaded.add(outcome.loaded)
            if outcome.pages or outcome.skipped:
                outcomes.append(outcome)
        counts = await self._write(outcomes)
        counts.add(loaded)
        return counts

    def _registered(self) -> list[ProfileRef]:
        with self.engine.connect() as conn:
            return registered_profiles(self.settings, conn)

    def _known_pages(self, profiles: list[str]) -> dict[str, list[Row]]:
        with self.engine.connect() as conn:
            return pages.known_pages(conn, profiles)

    def _chunked_walks(self, profiles: list[ProfileRef]) -> dict[str, Walk]:
        """Each profile's walk: resumed where an earlier one stopped, else from its first page."""
        stopped = walks.unfinished(self.engine, {p.url: (p.source, p.source_id) for p in profiles})
        # A walk whose author is gone (a profile deleted by hand) starts again: its pages need one.
        return {p.url: Walk.resume(stopped[p.url]) if stopped.get(p.url) and stopped[p.url].author else Walk()
                for p in profiles}

    async def _refresh_profile(self, profile: ProfileRef, known: list[Row], walk: Walk | None) -> ProfileOutcome:
        source = registry.get(profile.source)
        outcome = ProfileOutcome(profile, source.parser_version)
        turn = self._turns.setdefault(host_of(profile.url), asyncio.Lock()) if source.bans_host else nullcontext()
        try:
            async with turn:
                await self._walk_profile(source, known, outcome, walk)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            return ProfileOutcome(profile, source.parser_version)  # abandoned whole: the next run fetches it
        except Exception as exc:  # a bug must not cost the rest of the batch; it is reported
            log.exception("refreshing %s failed", profile.url)
            outcome.failed.append(problem(profile.url, exc))
        self._done[0] += 1
        self._report(outcome.pages)
        return outcome

    def _report(self, pages: int) -> None:
        self._done[1] += pages
        if hook := progress_hook.get():
            hook(self._done[0], self._total, self._done[1])

    async def _get(self, source: Source, url: str, known: Row | None = None) -> Fetched:
        validators = Validators(known.etag, known.last_modified, known.content_sha256) if known else None
        return await self.fetcher.get(url, validators, content_types=source.content_types,
                                      is_block=source.is_block_url, block_statuses=source.block_statuses,
                                      params=source.request_params())

    async def _trouble(self, source: Source, outcome: ProfileOutcome, url: str, exc: FetchError | ExtractionError,
                       body: bytes | None = None) -> None:
        """File what went wrong with a page of the profile. Transient fetch failures fail, the rest go to the
        quarantine; for a source whose site bans, a block (a block page, redirect or status) also trips its
        host's breaker, and a request the open breaker stopped only marks the profile skipped."""
        if exc.reason == "host_blocked" and isinstance(exc, FetchError):
            outcome.skipped = True
        elif exc.reason == "blocked" and source.bans_host:
            outcome.blocked = True
            host = host_of(url)
            if not self.breaker.why_closed(host):
                until = self.breaker.trip(host)
                log.warning("%s blocked us (%s: %s); no request to it until %s", host, exc.reason, exc.detail, until)
                await asyncio.to_thread(host_blocks.record, self.engine, host, until, exc.reason, url)
        if not outcome.skipped:
            retryable = isinstance(exc, FetchError) and exc.retryable
            (outcome.failed if retryable else outcome.quarantined).append(problem(url, exc, body))

    async def _walk_profile(self, source: Source, known: list[Row], outcome: ProfileOutcome, walk: Walk | None
                            ) -> None:
        profile = outcome.profile
        if walk is not None and walk.next_url is not None:  # on from where a cut-short walk stopped
            await self._extract_chain(source, {}, outcome, walk)
            return
        by_url = {page.url: page for page in known}
        reparse = any(page.parser_version != source.parser_version for page in known)
        try:
            first = await self._get(source, profile.url, by_url.get(profile.url))
        except FetchError as exc:
            await self._trouble(source, outcome, profile.url, exc)
            return
        fetched = {profile.url: first}
        if first.unchanged and not reparse:
            # Revalidate every known page: a change may be on page 3 only.
            rest = [p.url for p in known if p.url != profile.url]
            results = await asyncio.gather(*(self._get(source, u, by_url[u]) for u in rest), return_exceptions=True)
            if all(isinstance(r, Fetched) and r.unchanged for r in results):
                outcome.unchanged = [_state(profile, first), *(_state(profile, r) for r in results)]
                return
            if walk is None:  # a chunked walk fetches pages as it goes: it holds one chunk at a time
                fetched |= {u: r for u, r in zip(rest, results) if isinstance(r, Fetched)}
        await self._extract_chain(source, fetched, outcome, walk)

    async def _extract_chain(self, source: Source, fetched: dict[str, Fetched], outcome: ProfileOutcome,
                             walk: Walk | None = None) -> None:
        """Walk the profile's pages from the first (or where `walk` resumes), extracting each; bodies we lack are
        fetched anew. A chunked walk loads every `chunk_pages` pages as it goes; one that fails on a page loads
        the pages before it and resumes at it next time."""
        profile = outcome.profile
        extracted: list[Extracted] = []
        bodies: list[bytes] = []
        url: str | None = walk.next_url if walk and walk.next_url else profile.url
        first = url == profile.url
        walked: set[str] = set()  # this run's pages: a next link back to one of them is a loop
        room = self.settings.max_pages_per_profile - (walk.pages_walked if walk else 0)
        stopped_at: str | None = None  # the page a failure stopped the walk at
        complete = False
        while url is not None:
            if len(walked) >= room or url in walked:
                outcome.quarantined.append(Problem(url, "pagination", "page limit reached or next links loop"))
                break
            walked.add(url)
            result = fetched.get(url)
            try:
                if result is None or result.body is None:
                    result = await self._get(source, url)  # unconditional: we need the body
                origin = Origin(url, result.fetched_at, result.content_sha256)
                page = await self.workers.extract(source.name, result.body, origin, self.archive_level)
            except FetchError as exc:
                if exc.reason == "robots" and not first:  # Scholar's cstart walk: what robots.txt allows is all
                    outcome.partial = f"robots.txt disallows {url}"
                    log.info("%s: partial listing, %s", profile.url, outcome.partial)
                else:
                    await self._trouble(source, outcome, url, exc)
                    stopped_at = url
                break
            except ExtractionError as exc:
                await self._trouble(source, outcome, url, exc, result.body)
                stopped_at = url
                break
            if trouble := authorless(first, page, url, result.body):
                outcome.quarantined.append(trouble)
                break
            first = False
            extracted.append(Extracted(_state(profile, result), result.headers, page))
            bodies.append(result.body)
            url = page.next_url
            if url is not None and urlsplit(url).netloc != urlsplit(profile.url).netloc:
                outcome.quarantined.append(Problem(url, "pagination", "next link leaves the profile's host"))
                break
            if walk is not None and url is not None and len(extracted) == self.chunk_pages:
                if not await self._load_chunk(outcome, walk, extracted, url):
                    return
                extracted, bodies = [], []
        else:
            complete = True
        if outcome.blocked or outcome.skipped:  # a profile blocked half-way is not loaded half-way (its chunk)
            return
        outcome.end_walk(extracted, bodies, complete, walk.chunk(extracted, stopped_at) if walk and extracted else None)

    async def _load_chunk(self, outcome: ProfileOutcome, walk: Walk, extracted: list[Extracted], next_url: str
                          ) -> bool:
        """Load a chunk of a walk's pages now, the walk moving on to `next_url` with it; False when it could not
        load (the walk stops there, to resume at the chunk's first page)."""
        chunk = ProfileOutcome(outcome.profile, outcome.parser_version, extracted=extracted,
                               walk=walk.chunk(extracted, next_url))
        written = await self.workers.write([chunk], self.run_id, self.settings.archive.level,
                                           self.settings.precedence)
        outcome.loaded.add(tally(written, [chunk]))
        failpoint("walk_chunk_loaded")
        self._report(len(extracted))  # a long walk shows progress before its profile is done
        return not written.failed

    # -- writing -------------------------------------------------------------------------------
    async def _write(self, outcomes: list[ProfileOutcome]) -> RunCounts:
        await asyncio.to_thread(hold_shrunk, self.engine, outcomes, self.settings.blocks.shrink_ratio)
        written = await self.workers.write(outcomes, self.run_id, self.settings.archive.level,
                                           self.settings.precedence)
        return tally(written, outcomes)


async def refresh(settings: Settings, engine: Engine | None = None, shard: Shard = WHOLE) -> IngestRun:
    """Run one refresh (of one shard of the profiles) with the library alone (no Prefect)."""
    async with Refresher(settings, engine, shard) as refresher:
        return await refresher.run()
