"""The page archive: every fetched body kept, zstd-compressed, once per content (`page_body`, keyed by its
SHA-256), and an index of the fetches that brought a body (`page_capture`: URL, source, status, headers,
fetch time). It lives in the database so workers on several machines share it; `ingest reparse` reads it
to extract pages again without fetching them.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import zstandard
from sqlalchemy import Connection, Table, func, select

from ingest.store import bulk
from ingest.store.tables import PageBody, PageCapture

BODIES: Table = PageBody.__table__
CAPTURES: Table = PageCapture.__table__
_local = threading.local()  # zstd contexts are not thread-safe: one per thread and level


def pack(body: bytes, level: int) -> bytes:
    compressors = _local.__dict__.setdefault("compressors", {})
    if level not in compressors:
        compressors[level] = zstandard.ZstdCompressor(level=level)
    return compressors[level].compress(body)


def unpack(data: bytes) -> bytes:
    if not hasattr(_local, "decompressor"):
        _local.decompressor = zstandard.ZstdDecompressor()
    return _local.decompressor.decompress(data)


@dataclass(frozen=True, slots=True)
class Capture:
    """A fetched body to keep, already packed (compressed where the page was extracted)."""

    url: str
    source: str
    status: int
    headers: dict[str, str]
    fetched_at: datetime
    sha256: str
    size: int
    packed: bytes


def keep(conn: Connection, captures: Sequence[Capture]) -> None:
    """Store the captures' bodies (once per content) and index the fetches; re-keeping one changes nothing."""
    if not captures:
        return
    unique = {c.sha256: c for c in captures}
    bulk.insert_many(conn, BODIES, ("sha256", "size", "data"),
                     [(sha, c.size, c.packed) for sha, c in sorted(unique.items())])
    bulk.insert_many(conn, CAPTURES, ("url", "source", "status", "headers", "fetched_at", "sha256"),
                     [(c.url, c.source, c.status, c.headers, c.fetched_at, c.sha256) for c in captures])


def keep_bodies(conn: Connection, bodies: Iterable[bytes], level: int) -> list[str]:
    """Store bodies that no fetch index needs (a quarantined page's); returns their SHA-256s, in order."""
    rows = {}
    shas = []
    for body in bodies:
        sha = hashlib.sha256(body).hexdigest()
        shas.append(sha)
        if sha not in rows:
            rows[sha] = (sha, len(body), pack(body, level))
    bulk.insert_many(conn, BODIES, ("sha256", "size", "data"), [rows[sha] for sha in sorted(rows)])
    return shas


def bodies(conn: Connection, shas: Iterable[str]) -> dict[str, bytes]:
    """The stored bodies among `shas`, uncompressed, by SHA-256."""
    return {row.sha256: unpack(row.data) for row in conn.execute(
        select(BODIES.c.sha256, BODIES.c.data).where(bulk.one_of(conn, BODIES.c.sha256, set(shas))))}


def fetched_at(conn: Connection, urls: Iterable[str]) -> dict[tuple[str, str], datetime]:
    """When each (URL, body) among `urls`' captures was last fetched."""
    rows = conn.execute(select(CAPTURES.c.url, CAPTURES.c.sha256, func.max(CAPTURES.c.fetched_at).label("at"))
                        .where(bulk.one_of(conn, CAPTURES.c.url, set(urls)))
                        .group_by(CAPTURES.c.url, CAPTURES.c.sha256))
    return {(row.url, row.sha256): row.at for row in rows}
