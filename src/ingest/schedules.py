"""What to deploy: one deployment per source group and shard, from the configuration (pure, no Prefect).

`flows/deployments.py` turns these into Prefect deployments for `ingest serve` and `ingest deploy`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.config import ProfilesSettings, ScheduleSettings, Settings
from ingest.shards import Shard


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    name: str  # "daily", or "daily-2-of-4" for a group split into shards
    group: str
    shard: Shard
    profiles: ProfilesSettings
    schedule: ScheduleSettings | None

    def parameters(self, settings: dict | None = None) -> dict:
        """The flow's parameters: what to refresh, and the `settings` it runs with (`ingest.deployed.carried`:
        where to write included), so nothing is read from the directory of the process that runs it."""
        return {"urls": self.profiles.urls or None, "sitemap": self.profiles.sitemap, "source": self.profiles.source,
                "shard": self.shard.index, "shards": self.shard.count, "settings": settings}


def deployment_specs(settings: Settings) -> list[DeploymentSpec]:
    specs = []
    for group in settings.source_groups():
        for index in range(1, group.shards + 1):
            name = group.name if group.shards == 1 else f"{group.name}-{index}-of-{group.shards}"
            specs.append(DeploymentSpec(name, group.name, Shard(index, group.shards), group.profiles, group.schedule))
    return specs
