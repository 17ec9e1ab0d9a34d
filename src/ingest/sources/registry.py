"""Which sources there are, and which one a URL belongs to.

Every package under `ingest.sources` that defines `SOURCE` is a source: found by looking, not listed
here, so adding one never touches this file.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable

from ingest import sources as _package
from ingest.config import HttpSettings, Settings
from ingest.http.politeness import Politeness, politeness_for
from ingest.sources.base import ProfileRef, Source


class UnknownSource(ValueError):
    """A source name no source has."""


class UnclaimedURL(ValueError):
    """A URL that is no profile of any source (or not of the source named for it)."""


@functools.cache
def all_sources() -> dict[str, Source]:
    """Every source by name, in name order."""
    found: dict[str, Source] = {}
    for module in pkgutil.iter_modules(_package.__path__):
        if not module.ispkg:
            continue
        source = getattr(importlib.import_module(f"{_package.__name__}.{module.name}"), "SOURCE", None)
        if isinstance(source, Source):
            if source.name in found:
                raise RuntimeError(f"two sources are named {source.name!r}")
            found[source.name] = source
    return dict(sorted(found.items()))


def get(name: str) -> Source:
    try:
        return all_sources()[name]
    except KeyError:
        raise UnknownSource(f"no source named {name!r}; sources: {', '.join(all_sources())}") from None


def profile(url: str, source: str | None = None) -> ProfileRef:
    """The profile `url` belongs to: of the named source, else of whichever source claims it."""
    candidates = [get(source)] if source else all_sources().values()
    for candidate in candidates:
        if (ref := candidate.profile(url)) is not None:
            return ref
    whose = f"a {source} profile" if source else "a profile of any source"
    raise UnclaimedURL(f"{url} is not {whose} ({', '.join(all_sources())})")


def configure(settings: Settings) -> None:
    """Give every source its settings (the canonical URLs it builds may depend on them)."""
    for source in all_sources().values():
        source.configure(settings)


def host_defaults() -> list[tuple[str, Politeness]]:
    """(host pattern, politeness) that each source declares for its public hosts."""
    return [(pattern, source.politeness) for source in all_sources().values() for pattern in source.hosts]


def politeness(http: HttpSettings) -> Callable[[str], Politeness]:
    """Each host's politeness: `[http]`, or its source's defaults, overridden by `[http.hosts]`."""
    defaults = host_defaults()
    return lambda host: politeness_for(host, http, defaults)
