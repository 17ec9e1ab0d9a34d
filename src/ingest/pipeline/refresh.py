"""The refresh job: plan profiles, fetch them in batches, extract, load, and keep the run's books.

Works on its own (`await Refresher(settings).run(...)`); the Prefect flow wraps `refresh_batch`
in a task and passes it to `run`, so both paths share every line of the job.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import Engine, func, select, update

from ingest.pipeline.batch import PackedPage, Problem, ProfileOutcome, body_text, problem
from ingest.config import Settings
from ingest.store import IngestRun, Page, RunCounts, make_engine, utcnow
from ingest.sources.errors import ExtractionError
from ingest.sources.scholarfeed.extract import PARSER_VERSION, profile_url
from ingest.failpoint import failpoint
from ingest.http.fetch import FetchError, Fetched, Fetcher, Validators, host_of
from ingest.store.host_pace import SharedPace
from ingest.store.load import PageState
from ingest.shards import WHOLE, Shard
from ingest.pipeline.sitemap import discover
from ingest.pipeline.workers import Workers

log = logging.getLogger(__name__)

# Called with (profiles done, profiles planned, pages done) as profiles finish: the CLI's progress bar.
progress_hook: ContextVar[Callable[[int, int, int], None] | None] = ContextVar("progress_hook", default=None)


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """Hosts of the configured (or command-line) profile and sitemap URLs, plus any listed explicitly."""
    urls = [*settings.profiles.urls, *([settings.profiles.sitemap] if settings.profiles.sitemap else [])]
    return frozenset(host_of(u) for u in urls) | {h.lower() for h in settings.allowed_hosts}


def _state(fetched: Fetched) -> PageState:
    return PageState(fetched.url, fetched.etag, fetched.last_modified, fetched.content_sha256, fetched.status)


def short_listing(pages: list[PackedPage]) -> str | None:
    """Why a complete profile lists fewer papers than it declares, or None when it does not."""
    declared = pages[0].declared
    listed = sum(page.papers for page in pages)
    if declared is not None and listed < declared:
        return f"{listed} papers on {len(pages)} page(s), but the profile declares {declared}"
    return None


class Refresher:
    """Owns a run's fetcher and engine. Use as `async with Refresher(settings) as refresher:`."""

    def __init__(self, settings: Settings, engine: Engine | None = None, shard: Shard = WHOLE) -> None:
        self.settings = settings
        self.shard = shard
        self.engine = engine or make_engine(settings.database_url)
        shared = settings.http.min_interval_scope == "database"
        reserve = SharedPace(self.engine, settings.http.min_interval_s).reserve if shared else None
        self.fetcher = Fetcher(settings.http, allowed_hosts(settings), reserve)
        self.workers = Workers()
        self._done = [0, 0]
        self._total = 0
        self.run_id: int | None = None

    async def __aenter__(self) -> Refresher:
        return self

    async def __aexit__(self, *exc_info) -> None:
        self.workers.close()
        await self.fetcher.__aexit__(*exc_info)

    # -- planning and run bookkeeping ----------------------------------------------------------
    async def plan(self) -> list[str]:
        """Profile first-page URLs: the configured list, then the sitemap's, without duplicates; only this
        run's shard of them."""
        urls = list(self.settings.profiles.urls)
        if self.settings.profiles.sitemap:
            urls += await discover(self.fetcher, self.settings.profiles.sitemap)
        return self.shard.select(dict.fromkeys(profile_url(u) for u in urls))

    def start_run(self) -> IngestRun:
        """Record a new run. Runs still `running` whose heartbeat stopped over `run_lease_s` ago were left by
        a crash and become `abandoned`; live ones are left alone, since runs may overlap."""
        now = utcnow()
        with self.engine.begin() as conn:
            table = IngestRun.__table__
            silent_since = func.coalesce(table.c.heartbeat_at, table.c.started_at)
            conn.execute(update(table)
                         .where(table.c.status == "running",
                                silent_since < now - timedelta(seconds=self.settings.run_lease_s))
                         .values(status="abandoned", finished_at=now))
            run = IngestRun(started_at=now, heartbeat_at=now, shard=self.shard.index, shards=self.shard.count)
            run.id = conn.execute(table.insert().values(**run.model_dump(exclude={"id"}))).inserted_primary_key[0]
        self.run_id = run.id
        return run

    def finish_run(self, run: IngestRun, counts: RunCounts, started: float, status: str | None = None) -> IngestRun:
        finished = run.model_copy(update=counts.model_dump())
        finished.duration_s = round(time.perf_counter() - started, 3)
        finished.pages_per_s = round(finished.pages_fetched / finished.duration_s, 1) if finished.duration_s else 0.0
        finished.status = status or ("failed" if finished.pages_failed else "ok")
        finished.finished_at = utcnow()
        table = IngestRun.__table__
        with self.engine.begin() as conn:
            conn.execute(update(table).where(table.c.id == run.id)
                         .values(**finished.model_dump(exclude={"id", "started_at"})))
        return finished

    async def _heartbeat(self, run_id: int) -> None:
        """Tell overlapping runs this one is alive, until cancelled."""
        table = IngestRun.__table__

        def beat() -> None:
            with self.engine.begin() as conn:
                conn.execute(update(table).where(table.c.id == run_id).values(heartbeat_at=utcnow()))

        while True:
            await asyncio.sleep(self.settings.run_lease_s / 4)
            try:
                await asyncio.to_thread(beat)
            except Exception:  # a missed beat only risks being taken as dead; the run goes on
                log.warning("run %d: heartbeat failed", run_id, exc_info=True)

    async def run(
        self,
        profiles: Sequence[str],
        run_batch: Callable[[list[str]], Awaitable[RunCounts]] | None = None,
    ) -> IngestRun:
        """Refresh `profiles` in batches, at most `concurrency` at once; returns the run summary."""
        run_batch = run_batch or self.refresh_batch
        self._total = len(profiles)
        started = time.perf_counter()
        run = self.start_run()
        size = self.settings.batch_size
        batches = [list(profiles[i: i + size]) for i in range(0, len(profiles), size)]
        slots = asyncio.Semaphore(self.settings.concurrency)
        counts = RunCounts()

        async def one(batch: list[str]) -> None:
            async with slots:
                try:
                    counts.add(await run_batch(batch))
                    failpoint("batch_done")
                except Exception:  # the batch's own retries are spent: count its pages, go on
                    log.exception("batch of %d profiles failed", len(batch))
                    counts.pages_failed += len(batch)

        heartbeat = asyncio.create_task(self._heartbeat(run.id))
        try:
            await asyncio.gather(*(one(b) for b in batches))
        except BaseException:  # interrupted: keep what the run counted so far
            counts.retries = self.fetcher.retries
            self.finish_run(run, counts, started, status="failed")
            raise
        finally:
            heartbeat.cancel()
        counts.retries = self.fetcher.retries
        return self.finish_run(run, counts, started)

    # -- one batch -----------------------------------------------------------------------------
    async def refresh_batch(self, profiles: list[str]) -> RunCounts:
        """Fetch, extract and load one batch of profiles; returns its counts."""
        known = await asyncio.to_thread(self._known_pages, profiles)
        outcomes = await asyncio.gather(*(self._refresh_profile(p, known.get(p, [])) for p in profiles))
        return await self._write(outcomes)

    def _known_pages(self, profiles: list[str]) -> dict[str, list[Page]]:
        out: dict[str, list[Page]] = {}
        table = Page.__table__
        with self.engine.connect() as conn:
            rows = conn.execute(select(table).where(table.c.profile.in_(profiles)).order_by(table.c.id))
            for row in rows:
                out.setdefault(row.profile, []).append(row)
        return out

    async def _refresh_profile(self, profile: str, known: list[Page]) -> ProfileOutcome:
        outcome = ProfileOutcome(profile)
        try:
            await self._walk_profile(profile, known, outcome)
        except Exception as exc:  # a bug must not cost the rest of the batch; it is reported
            log.exception("refreshing %s failed", profile)
            outcome.failed.append(problem(profile, exc))
        self._done[0] += 1
        self._done[1] += outcome.pages
        if hook := progress_hook.get():
            hook(self._done[0], self._total, self._done[1])
        return outcome

    async def _get(self, url: str, known: Page | None) -> Fetched:
        validators = Validators(known.etag, known.last_modified, known.content_sha256) if known else None
        return await self.fetcher.get(url, validators)

    async def _walk_profile(self, profile: str, known: list[Page], outcome: ProfileOutcome) -> None:
        by_url = {page.url: page for page in known}
        reparse = any(page.parser_version != PARSER_VERSION for page in known)
        try:
            first = await self._get(profile, by_url.get(profile))
        except FetchError as exc:
            (outcome.failed if exc.retryable else outcome.quarantined).append(problem(profile, exc))
            return
        fetched = {profile: first}
        if first.unchanged and not reparse:
            # Revalidate every known page: a change may be on page 3 only.
            rest = [p.url for p in known if p.url != profile]
            results = await asyncio.gather(*(self._get(u, by_url[u]) for u in rest), return_exceptions=True)
            if all(isinstance(r, Fetched) and r.unchanged for r in results):
                outcome.unchanged = [_state(first), *(_state(r) for r in results)]
                return
            fetched |= {u: r for u, r in zip(rest, results) if isinstance(r, Fetched)}
        await self._load_chain(profile, fetched, outcome)

    async def _load_chain(self, profile: str, fetched: dict[str, Fetched], outcome: ProfileOutcome) -> None:
        """Walk the profile's pages from the first, extracting each; bodies we lack are fetched anew."""
        pages: list[tuple[PageState, PackedPage]] = []
        bodies: list[bytes] = []
        url: str | None = profile
        complete = False
        while url is not None:
            if len(pages) >= self.settings.max_pages_per_profile or any(s.url == url for s, _ in pages):
                outcome.quarantined.append(Problem(url, "pagination", "page limit reached or next links loop"))
                break
            result = fetched.get(url)
            try:
                if result is None or result.body is None:
                    result = await self.fetcher.get(url)  # unconditional: we need the body
                page = await self.workers.extract(result.body, url)
            except FetchError as exc:
                (outcome.failed if exc.retryable else outcome.quarantined).append(problem(url, exc))
                break
            except ExtractionError as exc:
                outcome.quarantined.append(problem(url, exc, result.body))
                break
            pages.append((_state(result), page))
            bodies.append(result.body)
            url = page.next_url
            if url is not None and urlsplit(url).netloc != urlsplit(profile).netloc:
                outcome.quarantined.append(Problem(url, "pagination", "next link leaves the profile's host"))
                break
        else:
            complete = True
        if complete and (why := short_listing([page for _, page in pages])):
            # Papers went missing on the way (a cut listing, a block page dressed as a profile):
            # loading it would end authorships that still exist.
            outcome.quarantined += [Problem(state.url, "incomplete", why, body_text(body))
                                    for (state, _), body in zip(pages, bodies)]
            return
        outcome.loaded, outcome.complete = pages, complete

    # -- writing -------------------------------------------------------------------------------
    async def _write(self, outcomes: list[ProfileOutcome]) -> RunCounts:
        written = await self.workers.write(self.engine, outcomes, self.run_id)
        counts = RunCounts()
        for outcome in outcomes:
            if problems := written.failed.get(outcome.profile):
                outcome.loaded, outcome.failed = [], outcome.failed + problems
            counts.pages_unchanged += len(outcome.unchanged)
            counts.pages_loaded += len(outcome.loaded)
            counts.pages_quarantined += len(outcome.quarantined)
            counts.pages_failed += len(outcome.failed)
            counts.pages_fetched += outcome.pages
            for trouble in [*outcome.quarantined, *outcome.failed]:
                log.warning("%s %s: %s", trouble.url, trouble.reason, trouble.detail)
        for name in ("authors_inserted", "authors_updated", "papers_inserted", "papers_updated"):
            setattr(counts, name, getattr(written.counts, name))
        return counts


async def refresh(settings: Settings, engine: Engine | None = None, shard: Shard = WHOLE) -> IngestRun:
    """Run one refresh (of one shard of the profiles) with the library alone (no Prefect)."""
    async with Refresher(settings, engine, shard) as refresher:
        return await refresher.run(await refresher.plan())
