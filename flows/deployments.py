"""Prefect deployments of the refresh flow, one per source group and shard (see `ingest.schedules`).

`serve` runs them in this process on their schedules (`ingest serve`); `deploy` registers them on a
work pool for `prefect worker start` on any machine (`ingest deploy`). Entrypoints are module paths
(`ingest.flows.refresh_profiles.refresh_profiles`), so whatever runs them imports the installed
`ingest` package and no path of the deploying machine is recorded.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from prefect import serve as prefect_serve
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags, FlowFilter, FlowFilterName
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Interval, Schedule
from prefect.types.entrypoint import EntrypointType

from ingest.config import ScheduleSettings
from ingest.flows.refresh_profiles import refresh_profiles
from ingest.schedules import DeploymentSpec

SERVE_TAG = "ingest-serve"


def pool_tag(pool: str) -> str:
    return f"ingest-pool:{pool}"


def prefect_schedule(schedule: ScheduleSettings) -> Schedule:
    if schedule.cron is not None:
        return Cron(schedule.cron, timezone=schedule.timezone)
    return Interval(timedelta(seconds=schedule.interval_s), timezone=schedule.timezone)


def build(specs: list[DeploymentSpec], tag: str, config: str | None = None) -> list[RunnerDeployment]:
    return [
        RunnerDeployment.from_flow(
            refresh_profiles,
            spec.name,
            parameters=spec.parameters(config),
            schedules=[prefect_schedule(spec.schedule)] if spec.schedule else [],
            paused=False,  # a restart resumes what the last stop paused
            # A group's run that fires while its last one still runs is cancelled, not queued: no pile-up.
            concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW),
            tags=["ingest", f"group:{spec.group}", tag],
            description=f"Refresh group {spec.group!r}, shard {spec.shard}.",
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
        for spec in specs
    ]


async def prune(tag: str, keep: set[str]) -> list[str]:
    """Delete our deployments carrying `tag` whose group left the config, so they stop firing."""
    async with get_client() as client:
        found = await client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[refresh_profiles.name])),
            deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=[tag])),
        )
        gone = [d for d in found if d.name not in keep]
        for deployment in gone:
            await client.delete_deployment(deployment.id)
    return [d.name for d in gone]


def serve(specs: list[DeploymentSpec], config: str | None) -> None:
    """Serve the deployments until interrupted; Prefect pauses them as this stops."""
    deployments = build(specs, SERVE_TAG, config)
    asyncio.run(prune(SERVE_TAG, {d.name for d in deployments}))
    prefect_serve(*deployments, print_starting_message=False)


async def deploy(specs: list[DeploymentSpec], pool: str) -> list[str]:
    """Register the deployments on work pool `pool`; returns their full names."""
    tag = pool_tag(pool)
    deployments = build(specs, tag)
    await prune(tag, {d.name for d in deployments})
    for deployment in deployments:
        await deployment.apply(work_pool_name=pool)
    return [f"{refresh_profiles.name}/{d.name}" for d in deployments]
