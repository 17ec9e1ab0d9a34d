"""Which profiles a run refreshes: the configured URLs, the registry's, then the sitemap's, each claimed by a
source."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection

from ingest.config import Settings
from ingest.http.fetch import Fetcher, FetchError, host_of
from ingest.pipeline.sitemap import SitemapError, discover
from ingest.shards import WHOLE, Shard
from ingest.sources import ProfileRef, UnclaimedURL, UnknownSource, registry
from ingest.store import profiles as registered

NOTHING_TO_DO = ("no profiles to refresh: pass profile URLs or --sitemap, register some with `ingest profiles add "
                 "URL...`, or list them under [profiles] in a config file")


class PlanError(Exception):
    """The run's profiles could not be found (its sitemap failed, a URL is no source's); the message says why."""


@dataclass(slots=True)
class Plan:
    profiles: list[ProfileRef]  # this shard's, in order, each once
    unclaimed: list[str] = field(default_factory=list)  # this shard's sitemap URLs that no source claims


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """Hosts of the configured (or command-line) profile and sitemap URLs, of arXiv's API when papers are
    completed from it, plus any listed explicitly."""
    urls = [*settings.profiles.urls, *([settings.profiles.sitemap] if settings.profiles.sitemap else []),
            *([settings.arxiv.api_url] if settings.arxiv.enrich else [])]
    return frozenset(host_of(u) for u in urls) | {h.lower() for h in settings.allowed_hosts}


def registered_profiles(settings: Settings, conn: Connection) -> list[ProfileRef]:
    """The registry's profiles a run takes: the group `profiles.registry` names, or, when no profile URL and
    no sitemap is configured, every registered profile."""
    group = settings.profiles.registry
    if group is None and (settings.profiles.urls or settings.profiles.sitemap):
        return []
    return [ProfileRef(p.source, p.source_id, p.url) for p in registered.listed(conn, group)]


def configured_profiles(settings: Settings) -> list[ProfileRef]:
    """The profiles the configuration (or command line) lists by URL. Raises `UnclaimedURL` or
    `UnknownSource` for a URL no source claims or a source that does not exist: a configuration error."""
    return [registry.profile(url, settings.profiles.source) for url in settings.profiles.urls]


async def plan(settings: Settings, fetcher: Fetcher, shard: Shard = WHOLE,
               registry_profiles: Sequence[ProfileRef] = ()) -> Plan:
    """The configured profiles, the registry's (as `registered_profiles` found them), then the sitemap's; only
    this shard's. Raises `PlanError` when a configured URL is no source's, the sitemap cannot be read, or there
    is no profile at all."""
    try:
        refs = [*configured_profiles(settings), *registry_profiles]
    except (UnclaimedURL, UnknownSource) as exc:
        raise PlanError(str(exc)) from exc
    unclaimed = []
    if sitemap := settings.profiles.sitemap:
        try:
            urls = await discover(fetcher, sitemap)
        except (FetchError, SitemapError) as exc:
            raise PlanError(f"sitemap {sitemap}: {exc}") from exc
        for url in urls:
            try:
                refs.append(registry.profile(url, settings.profiles.source))
            except UnclaimedURL:
                unclaimed.append(url)
    if not refs and not unclaimed:
        raise PlanError(NOTHING_TO_DO)
    profiles: dict[str, ProfileRef] = {}
    for ref in refs:
        profiles.setdefault(ref.url, ref)
    return Plan([ref for url, ref in profiles.items() if shard.holds(url)], shard.select(dict.fromkeys(unclaimed)))
