"""The Prefect flow runs the same job as the library, one task per batch of profiles."""

from __future__ import annotations

import asyncio

from prefect.client.orchestration import get_client

from ingest.flows.refresh_profiles import refresh_profiles
from ingest.store import Author, Paper
from tests.dbutil import count, dump_records


def write_config(path, database_url: str, sitemap: str, batch_size: int) -> str:
    path.write_text(f'database_url = "{database_url}"\nbatch_size = {batch_size}\n'
                    f'[profiles]\nsitemap = "{sitemap}"\n')
    return str(path)


async def batch_task_runs() -> set:
    async with get_client() as client:
        return {r.id for r in await client.read_task_runs() if r.name.startswith("refresh-batch")}


async def test_flow_refreshes_in_batches_and_reruns_unchanged(prefect_api, site, site_url, database_url, engine, tmp_path):
    config = write_config(tmp_path / "ingest.toml", database_url, f"{site_url}/sitemap.xml", batch_size=10)
    earlier = await batch_task_runs()
    summary = await refresh_profiles(config=config)
    assert summary.status == "ok" and summary.pages_failed == 0
    assert count(engine, Author) == site.corpus.profiles + 1
    assert count(engine, Paper) == len(site.corpus.papers) + 11
    before = dump_records(engine)
    again = await refresh_profiles(config=config)
    assert again.pages_unchanged == again.pages_fetched == summary.pages_fetched
    assert dump_records(engine) == before

    # 31 profiles in batches of 10: four tasks per flow run (the server records them asynchronously)
    for _ in range(50):
        if len(batches := await batch_task_runs() - earlier) >= 8:
            break
        await asyncio.sleep(0.2)
    assert len(batches) == 8


async def test_flow_arguments_replace_the_configured_profiles(prefect_api, site_url, database_url, engine, tmp_path):
    config = write_config(tmp_path / "ingest.toml", database_url, f"{site_url}/sitemap.xml", batch_size=10)
    summary = await refresh_profiles(urls=[f"{site_url}/author/1"], config=config)
    assert summary.pages_fetched == 1 and count(engine, Author) == 1


async def test_a_sharded_flow_run_refreshes_its_shard_and_says_so(prefect_api, site, site_url, database_url, engine,
                                                                   tmp_path):
    from ingest.shards import Shard

    config = write_config(tmp_path / "ingest.toml", database_url, f"{site_url}/sitemap.xml", batch_size=10)
    summary = await refresh_profiles(config=config, shard=2, shards=3)
    assert (summary.shard, summary.shards, summary.status) == (2, 3, "ok")
    mine = Shard(2, 3).select(f"{site_url}/author/{a}" for a in site.corpus.author_ids())
    assert 0 < count(engine, Author) == len(mine) < site.corpus.profiles + 1


async def test_the_run_summary_is_published_as_an_artifact_of_the_flow_run(prefect_api, site_url, database_url,
                                                                            tmp_path):
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    config = write_config(tmp_path / "ingest.toml", database_url, f"{site_url}/sitemap.xml", batch_size=10)
    state = await refresh_profiles(urls=[f"{site_url}/author/1", f"{site_url}/author/404"], config=config,
                                   return_state=True)
    summary, flow_run_id = await state.result(), state.state_details.flow_run_id
    async with get_client() as client:
        (artifact,) = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    assert artifact.type == "markdown" and artifact.key == f"ingest-run-{summary.id}"
    assert f"| pages fetched | {summary.pages_fetched} |" in artifact.data
    assert f"| pages loaded | {summary.pages_loaded} |" in artifact.data
    assert "/author/404" in artifact.data  # the first troubled pages, named


def test_the_export_flow_delivers_to_a_directory_and_a_database_and_then_only_what_changed(
        prefect_api, site, settings, engine, tmp_path):
    from ingest.flows.export_changes import export_changes
    from ingest.pipeline.refresh import refresh

    asyncio.run(refresh(settings, engine))
    warehouse = f"sqlite:///{tmp_path / 'warehouse.db'}"
    config = tmp_path / "export.toml"
    config.write_text(f'database_url = "{settings.database_url}"\n[export]\ndirectory = "{tmp_path / "out"}"\n'
                      f'database_url = "{warehouse}"\nformat = "csv"\n')
    first = export_changes(config=str(config))
    assert first["directory"]["since"] is None and first["database"]["since"] is None
    assert first["directory"]["rows"]["paper"] == first["database"]["rows"]["paper"] == count(engine, Paper)
    again = export_changes(config=str(config))
    assert again["directory"]["since"] == again["database"]["since"] == first["database"]["cursor"]
    assert sum(again["database"]["rows"].values()) == 0 and (tmp_path / "out" / "full" / "paper.csv").is_file()


async def backfill_task_runs() -> set:
    async with get_client() as client:
        return {r.id for r in await client.read_task_runs() if r.name.startswith("backfill-batch")}


async def test_the_backfill_flow_loads_the_archive_in_batch_tasks_then_walks_the_live_pages(
        prefect_api, site, site_url, database_url, engine, tmp_path):
    from ingest.flows.backfill import backfill_profiles
    from ingest.site import wayback

    config = tmp_path / "ingest.toml"
    config.write_text(f'database_url = "{database_url}"\nbatch_size = 2\n'
                      f'[backfill]\narchive_url = "{site_url}"\n[warc]\nbackfill = false\n')
    earlier = await backfill_task_runs()
    archive, live = await backfill_profiles(urls=[f"{site_url}/author/{a}" for a in (1001, 1002, 1003)],
                                            config=str(config))
    assert (archive.kind, archive.status, archive.pages_loaded) == ("backfill", "ok", 3 * wayback.CAPTURES)
    assert (live.kind, live.status, live.authors_inserted) == ("walk", "ok", 0)
    for _ in range(50):  # 3 profiles in batches of 2: two tasks
        if len(await backfill_task_runs() - earlier) >= 2:
            break
        await asyncio.sleep(0.1)
    assert len(await backfill_task_runs() - earlier) == 2
