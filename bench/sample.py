"""Pages and extracted profiles of the bundled corpus, rendered in-process (no server), for the phase benches."""

from __future__ import annotations

from datetime import datetime, timezone

from ingest.site.corpus import Corpus
from ingest.sources import Origin, registry
from ingest.store.load import ProfileLoad
from ingest.store.pages import PageState

SOURCE = registry.get("scholarfeed")

BASE = "http://127.0.0.1"  # only names the pages: nothing is fetched


def page_urls(corpus: Corpus, base: str = BASE) -> list[str]:
    """Every page of every profile, first pages first (the order a crawl discovers them)."""
    ids = corpus.author_ids()
    return [f"{base}/author/{a}" for a in ids] + [
        f"{base}/author/{a}?page={p}" for a in ids for p in range(2, corpus.page_count(a) + 1)
    ]


def pages(corpus: Corpus, limit: int) -> list[tuple[Origin, bytes]]:
    """The first page of `limit` generated profiles, as (origin, body)."""
    now = datetime.now(timezone.utc)
    bodies = [(f"{BASE}/author/{a}", corpus.render(a, 1).encode()) for a in corpus.author_ids()[1: limit + 1]]
    return [(Origin.of(url, body, now), body) for url, body in bodies]


def profile_loads(corpus: Corpus, limit: int) -> list[ProfileLoad]:
    """What the refresh hands the loader for the first `limit` generated profiles, every page of each."""
    loads = []
    now = datetime.now(timezone.utc)
    for author_id in corpus.author_ids()[1: limit + 1]:
        url = f"{BASE}/author/{author_id}"
        states = []
        for page in range(1, corpus.page_count(author_id) + 1):
            page_url = url if page == 1 else f"{url}?page={page}"
            body = corpus.render(author_id, page).encode()
            origin = Origin.of(page_url, body, now)
            states.append((PageState(page_url, url, SOURCE.name, None, None, origin.body_sha256, 200, now),
                           SOURCE.extract(body, origin)))
        loads.append(ProfileLoad(url, SOURCE.parser_version, states))
    return loads

