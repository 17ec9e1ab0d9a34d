"""The profile registry: profiles kept in the database (`ingest profiles`), each in a group runs can name.

Users with hundreds of profiles keep them here rather than in the TOML file; a group's `profiles.registry`
names the registry group it refreshes, and a run with no profiles configured takes the whole registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Table, delete, func, select

from ingest.store import bulk
from ingest.store.tables import RegisteredProfile, utcnow

PROFILES: Table = RegisteredProfile.__table__


@dataclass(frozen=True, slots=True)
class Listed:
    """A registered profile: its canonical first-page URL, its source and the author's id there, its group."""

    url: str
    source: str
    source_id: str
    group: str


def add(conn: Connection, profiles: Sequence[Listed]) -> list[Listed]:
    """Register `profiles`; returns those that were not registered already (in any group)."""
    new = {p.url: p for p in profiles}
    known = set(conn.execute(select(PROFILES.c.url).where(bulk.one_of(conn, PROFILES.c.url, list(new)))).scalars())
    added = [p for url, p in new.items() if url not in known]
    now = utcnow()
    bulk.insert_many(conn, PROFILES, ("url", "source", "source_id", "group", "added_at"),
                     [(p.url, p.source, p.source_id, p.group, now) for p in added])
    return added


def remove(conn: Connection, urls: Sequence[str]) -> int:
    """Unregister these profiles; returns how many were registered."""
    if not urls:
        return 0
    return conn.execute(delete(PROFILES).where(bulk.one_of(conn, PROFILES.c.url, urls))).rowcount


def listed(conn: Connection, group: str | None = None) -> list[Listed]:
    """The registered profiles (of `group`, if given), in the order they were added."""
    query = select(PROFILES).order_by(PROFILES.c.id)
    if group is not None:
        query = query.where(PROFILES.c.group == group)
    return [Listed(row.url, row.source, row.source_id, row.group) for row in conn.execute(query)]


def groups(conn: Connection) -> dict[str, int]:
    """Each registry group and how many profiles it holds."""
    query = select(PROFILES.c.group, func.count()).group_by(PROFILES.c.group).order_by(PROFILES.c.group)
    return dict(conn.execute(query).all())
