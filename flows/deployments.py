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
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags, FlowFilter, FlowFilterName
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.exceptions import ObjectNotFound
from prefect.schedules import Cron, Interval, Schedule
from prefect.types.entrypoint import EntrypointType

from ingest.config import ScheduleSettings
from ingest.flows.export_changes import export_changes
from ingest.flows.refresh_profiles import refresh_profiles
from ingest.schedules import DeploymentSpec

SERVE_TAG = "ingest-serve"
EXPORT_DEPLOYMENT = "scheduled"


def pool_tag(pool: str) -> str:
    return f"ingest-pool:{pool}"


def prefect_schedule(schedule: ScheduleSettings) -> Schedule:
    if schedule.cron is not None:
        return Cron(schedule.cron, timezone=schedule.timezone)
    return Interval(timedelta(seconds=schedule.interval_s), timezone=schedule.timezone)


def build(specs: list[DeploymentSpec], tag: str, settings: dict | None = None) -> list[RunnerDeployment]:
    """The refresh deployments of `specs`, each carrying `settings` (`ingest.deployed.carried`)."""
    return [
        RunnerDeployment.from_flow(
            refresh_profiles,
            spec.name,
            parameters=spec.parameters(settings),
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


def export_deployment(schedule: ScheduleSettings, tag: str, settings: dict) -> RunnerDeployment:
    """The scheduled export of changes (the config's `[export]`)."""
    return RunnerDeployment.from_flow(
        export_changes,
        EXPORT_DEPLOYMENT,
        parameters={"settings": settings},
        schedules=[prefect_schedule(schedule)],
        paused=False,
        concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW),
        tags=["ingest", "export", tag],
        description="Deliver the changes since the last delivery to the configured directory or database.",
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


async def prune(tag: str, keep: set[tuple[str, str]]) -> list[str]:
    """Delete our deployments carrying `tag` that the config no longer has (by flow and deployment name), so
    they stop firing."""
    names = [refresh_profiles.name, export_changes.name]
    async with get_client() as client:
        flows = {f.id: f.name for f in await client.read_flows(flow_filter=FlowFilter(name=FlowFilterName(any_=names)))}
        found = await client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=names)),
            deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=[tag])),
        )
        gone = [d for d in found if (flows.get(d.flow_id), d.name) not in keep]
        for deployment in gone:
            await client.delete_deployment(deployment.id)
    return [d.name for d in gone]


def serve(specs: list[DeploymentSpec], settings: dict, export: ScheduleSettings | None = None) -> None:
    """Serve the deployments (and the export, on its schedule) until interrupted; Prefect pauses them as this
    stops. Their runs are this process's children, so the secrets `settings` reference through the
    environment must be in this process's."""
    deployments = build(specs, SERVE_TAG, settings)
    keep = {(refresh_profiles.name, d.name) for d in deployments}
    if export is not None:
        deployments.append(export_deployment(export, SERVE_TAG, settings))
        keep.add((export_changes.name, EXPORT_DEPLOYMENT))
    asyncio.run(prune(SERVE_TAG, keep))
    prefect_serve(*deployments, print_starting_message=False)


class MissingWorkPool(LookupError):
    pass


async def save_secret(name: str, value: str) -> None:
    """Keep `value` in the Prefect Secret block `name` (on the server, never in a file of ours)."""
    await Secret(value=value).save(name, overwrite=True)


async def deploy(specs: list[DeploymentSpec], pool: str, settings: dict) -> list[str]:
    """Register the deployments on work pool `pool`, carrying `settings`; returns their full names. Raises
    `MissingWorkPool` first when there is no such pool (moving existing deployments to one would fail on the
    server, half-way)."""
    async with get_client() as client:
        try:
            await client.read_work_pool(pool)
        except ObjectNotFound:
            raise MissingWorkPool(f'Work pool "{pool}" not found: create it with '
                                  f"`prefect work-pool create {pool} --type process`") from None
    tag = pool_tag(pool)
    deployments = build(specs, tag, settings)
    await prune(tag, {(refresh_profiles.name, d.name) for d in deployments})
    for deployment in deployments:
        await deployment.apply(work_pool_name=pool)
    return [f"{refresh_profiles.name}/{d.name}" for d in deployments]
