"""What a user could hand-write instead, and the site's own ceiling: the yardsticks our figures are divided by.

The bare loops use 16 requests in flight (httpx's pool scans every connection per request, so 16 beats 64
there), each over httpx's own client and over a bare aiohttp session: the faster of the two is the yardstick.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import urljoin, urlsplit

import aiohttp
import httpx
from selectolax.lexbor import LexborHTMLParser
from sqlmodel import Session, select

from bench.measure import clock, result, with_rows
from bench.sample import profile_loads
from ingest import dedupe
from ingest.site.corpus import Corpus
from ingest.store import Author, Authorship, Page, Paper, make_engine

CONCURRENCY = 16
Get = Callable[..., Awaitable[tuple[int, bytes]]]  # get(url, headers=None) -> (status, body)


@asynccontextmanager
async def _client(kind: str) -> AsyncIterator[Get]:
    """A `get` over httpx's own client or over a bare aiohttp session: the bare loops run on each."""
    if kind == "aiohttp":
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
            async def get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
                async with session.get(url, headers=headers) as response:
                    return response.status, await response.read()
            yield get
        return
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=CONCURRENCY,
                                                     max_keepalive_connections=CONCURRENCY)) as client:
        async def get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
            response = await client.get(url, headers=headers)
            return response.status_code, response.content
        yield get


async def _gather_bounded(jobs) -> list:
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(job):
        async with slots:
            return await job

    return await asyncio.gather(*(one(j) for j in jobs))


async def bare_fetch_parse(sitemap: str, client: str = "httpx") -> dict:
    """A gather + selectolax, no database: read the sitemap, then fetch and parse every page of every
    profile, following the next links. The parse builds the tree and finds the next link, nothing more."""
    start = clock()
    async with _client(client) as get:
        profiles = re.findall(r"<loc>([^<]+)</loc>", (await get(sitemap))[1].decode())
        slots = asyncio.Semaphore(CONCURRENCY)

        async def crawl(url: str | None) -> int:
            pages = 0
            while url:
                async with slots:
                    _, body = await get(url)
                next_link = LexborHTMLParser(body).css_first('a[rel="next"]')
                url = urljoin(url, next_link.attributes["href"]) if next_link is not None else None
                pages += 1
            return pages

        pages = sum(await asyncio.gather(*(crawl(u) for u in profiles)))
    return result(start, pages)


async def bare_fetch(urls: list[str], client: str = "httpx") -> dict:
    """A gather alone over every page URL: the fetch phase's yardstick."""
    start = clock()
    async with _client(client) as get:
        responses = await _gather_bounded(get(url) for url in urls)
    assert all(status == 200 for status, _ in responses)
    return result(start, len(responses))


async def bare_conditional(database_path: str, client: str = "httpx") -> dict:
    """A gather of conditional GETs over every page a first refresh stored, with its validators."""
    with sqlite3.connect(database_path) as db:
        known = db.execute("SELECT url, etag, last_modified FROM page").fetchall()
    start = clock()
    async with _client(client) as get:
        responses = await _gather_bounded(
            get(url, headers={"If-None-Match": etag, "If-Modified-Since": modified})
            for url, etag, modified in known
        )
    assert all(status == 304 for status, _ in responses)
    return result(start, len(responses))


def orm_load(database_url: str, profiles: int, corpus_profiles: int) -> dict:
    """The naive loader: per-row SQLModel `session.add`, a lookup per paper, a commit per page."""
    loads = profile_loads(Corpus(corpus_profiles), profiles)
    engine = make_engine(database_url)
    start = clock()
    with Session(engine) as session:
        for profile in loads:
            for state, page in profile.pages:
                author = session.exec(select(Author).where(Author.source == page.author.source,
                                                           Author.source_id == page.author.source_id)).first()
                if author is None:
                    author = Author(**page.author.model_dump())
                    session.add(author)
                    session.flush()
                for position, record in enumerate(page.papers, start=page.first_position):
                    key = dedupe.title_key(record)
                    paper = session.exec(select(Paper).where(Paper.title_key == key)).first()
                    if paper is None:
                        paper = Paper(**record.model_dump(), title_key=key)
                        session.add(paper)
                        session.flush()
                    session.add(Authorship(author_id=author.id, paper_id=paper.id, position=position))
                session.add(Page(url=state.url, profile=profile.profile, source=state.source, http_status=state.http_status))
                session.commit()
    out = result(start, sum(len(p.pages) for p in loads))
    engine.dispose()
    return with_rows(out, database_url)


async def server_ceiling(base: str, urls: list[str], connections: int = 8, passes: int = 2) -> dict:
    """The site alone: a minimal keep-alive HTTP/1.1 client (far cheaper per request than httpx) requests
    every page `passes` times over `connections` connections. The site's CPU share says whether the client
    or the site was the limit."""
    split = urlsplit(base)
    targets = [url[len(base):] for url in urls] * passes
    queue: asyncio.Queue[str] = asyncio.Queue()
    for target in targets:
        queue.put_nowait(target)

    async def connection() -> int:
        reader, writer = await asyncio.open_connection(split.hostname, split.port)
        received = 0
        while not queue.empty():
            writer.write(f"GET {queue.get_nowait()} HTTP/1.1\r\nHost: {split.netloc}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head[:40]
            length = int(re.search(rb"\r\nContent-Length: (\d+)", head).group(1))
            received += len(await reader.readexactly(length))
        writer.close()
        return received

    start = clock()
    received = sum(await asyncio.gather(*(connection() for _ in range(connections))))
    out = result(start, len(targets))
    return out | {"mib_per_s": round(received / 2**20 / out["seconds"], 1)}
