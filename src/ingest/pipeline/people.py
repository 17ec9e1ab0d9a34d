"""Linking the stored author rows into people (`ingest.people`), after a refresh and by `ingest people`."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from ingest.config import Settings
from ingest.people import Linking
from ingest.sources import registry
from ingest.store import changes
from ingest.store import people as stored_people
from ingest.store.tables import utcnow
from ingest.store.transaction import transact

log = logging.getLogger(__name__)


def link_people(settings: Settings, engine: Engine) -> Linking:
    """Join the author rows of one human across sources as `[[people]]`, ORCIDs and confident matches say;
    ambiguous matches are logged, not joined. A configured URL no source claims is logged and skipped."""
    configured = []
    for person in settings.people:
        keys = []
        for url in person.profiles:
            try:
                ref = registry.profile(url)
            except registry.UnclaimedURL as exc:
                log.warning("[[people]]: %s", exc)
                continue
            keys.append((ref.source, ref.source_id))
        configured.append(keys)

    def work(conn) -> Linking:
        now = utcnow()
        linking = stored_people.relink(conn, configured, now)
        changes.seal(conn, now)
        return linking

    linking = transact(engine, work)
    for message in linking.ambiguous:
        log.warning("people: %s", message)
    log.info("people: %d linked across sources", len(linking.people))
    return linking
