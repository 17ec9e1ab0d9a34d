"""How politely to treat one host: the spacing between request starts, the requests in flight, the jitter.

Pure: resolves a host name against settings and source defaults; `ingest.http.throttle` enforces the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase

from ingest.config import HostPolitenessSettings, HttpSettings


@dataclass(frozen=True, slots=True)
class Politeness:
    interval_s: float = 0.0  # minimum time between two request starts to the host
    concurrency: int = 16  # requests in flight to the host
    jitter_s: float = 0.0  # a random extra wait in [0, jitter_s) added to each interval, so starts do not tick


def politeness_for(host: str, http: HttpSettings, defaults: Sequence[tuple[str, Politeness]]) -> Politeness:
    """The politeness for `host`: the global `[http]` settings, replaced by the first source default whose
    pattern matches the host, then overridden field by field by the host's `http.hosts` entry, if any.

    The order runs from the least to the most informed: the global settings are a blanket choice for hosts
    nobody described; a source knows what its public hosts ask for (Scholar: one at a time, 5 s apart), so
    its default is a complete statement that replaces the blanket one rather than mixing with it; the
    operator has the last word (an agreement with the site, a block seen in production), one field at a
    time so changing one knob does not mean restating the others.
    """
    host = host.lower()
    base = Politeness(http.min_interval_s, http.per_host_concurrency, http.jitter_s)
    base = next((p for pattern, p in defaults if fnmatchcase(host, pattern.lower())), base)
    entry = _host_entry(host, http.hosts)
    if entry is None:
        return base
    fields = {"interval_s": entry.min_interval_s, "concurrency": entry.concurrency, "jitter_s": entry.jitter_s}
    return replace(base, **{name: value for name, value in fields.items() if value is not None})


def _host_entry(host: str, hosts: dict[str, HostPolitenessSettings]) -> HostPolitenessSettings | None:
    """The entry named `host` exactly, else the first (in the order written) whose pattern matches it."""
    if host in hosts:
        return hosts[host]
    return next((entry for pattern, entry in hosts.items() if fnmatchcase(host, pattern)), None)
