"""Deployments from the config: served by `ingest serve` on their schedules, registered by `ingest deploy`."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from prefect.client.orchestration import get_client

from ingest.config import load_settings
from ingest.flows.deployments import SERVE_TAG, build, prune
from ingest.schedules import deployment_specs
from ingest.store import Author, IngestRun, make_engine
from tests.conftest import PREFECT_SERVER_ENV
from tests.dbutil import count, rows
from tests.cli.runner import INGEST

FAST = {"PREFECT_RUNNER_POLL_FREQUENCY": "1", "PREFECT_WORKER_QUERY_SECONDS": "1"}


def write_groups(path: Path, database_url: str, sitemap: str, *groups: str, schedule: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = f'database_url = "{database_url}"\n'
    for name in groups:
        text += f'[[groups]]\nname = "{name}"\n{schedule}profiles = {{ sitemap = "{sitemap}" }}\n'
    path.write_text(text)
    return path


async def deployments(tag: str) -> dict[str, object]:
    async with get_client() as client:
        return {d.name: d for d in await client.read_deployments() if tag in d.tags}


def wait_for(condition, process: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"exited early: {log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"timed out: {log.read_text()[-3000:]}"
        time.sleep(0.5)


def stop(process: subprocess.Popen, how: signal.Signals) -> int:
    process.send_signal(how)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


async def test_a_restart_with_a_changed_schedule_replaces_it_and_resumes_a_paused_deployment(prefect_api, tmp_path):
    def specs(schedule: str):
        return deployment_specs(load_settings(write_groups(
            tmp_path / "c.toml", "sqlite:///x.db", "http://127.0.0.1:1/sitemap.xml", "resumed", schedule=schedule)))

    (deployment,) = build(specs("schedule = { interval_s = 3600 }\n"), "test-resume")
    assert deployment.entrypoint == "ingest.flows.refresh_profiles.refresh_profiles"
    first = await deployment.apply()
    async with get_client() as client:
        await client.pause_deployment(first)  # what stopping `ingest serve` does
        assert (await client.read_deployment(first)).paused
        (again,) = build(specs('schedule = { cron = "0 6 * * *", timezone = "Europe/Berlin" }\n'), "test-resume")
        assert await again.apply() == first
        restarted = await client.read_deployment(first)
    assert not restarted.paused
    assert [(s.schedule.cron, s.schedule.timezone) for s in restarted.schedules] == [("0 6 * * *", "Europe/Berlin")]


async def test_prune_deletes_only_tagged_deployments_whose_group_is_gone(prefect_api, tmp_path):
    def specs(*names: str):
        return deployment_specs(load_settings(write_groups(
            tmp_path / "c.toml", "sqlite:///x.db", "http://127.0.0.1:1/sitemap.xml", *names)))

    for deployment in build(specs("kept", "gone"), "test-prune") + build(specs("elsewhere"), "test-other"):
        await deployment.apply()
    assert await prune("test-prune", {("refresh-profiles", "kept")}) == ["gone"]
    assert set(await deployments("test-prune")) == {"kept"}
    assert set(await deployments("test-other")) == {"elsewhere"}


async def test_serve_fires_a_schedule_drops_removed_groups_and_pauses_on_stop(prefect_api, site_url, tmp_path):
    database_url = f"sqlite:///{tmp_path / 'ingest.db'}"
    sitemap = f"{site_url}/sitemap.xml"
    for deployment in build(deployment_specs(load_settings(write_groups(
            tmp_path / "old.toml", database_url, sitemap, "removed"))), SERVE_TAG):
        await deployment.apply()  # what an earlier `ingest serve` with another config left behind
    config = write_groups(tmp_path / "ingest.toml", database_url, sitemap, "often",
                          schedule="schedule = { interval_s = 5 }\n")
    exports = tmp_path / "exports"
    with config.open("a") as file:  # and the export of changes, on its own schedule
        file.write(f'[export]\ndirectory = "{exports}"\nschedule = {{ interval_s = 5 }}\n')
    engine = make_engine(database_url)
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        serve = subprocess.Popen([INGEST, "serve", "--config", str(config)], cwd=tmp_path, env=os.environ | FAST,
                                 stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: count(engine, IngestRun, IngestRun.status == "ok") >= 1, serve, 90, log)
        wait_for(lambda: (exports / "cursor.json").is_file(), serve, 60, log)
    finally:
        assert stop(serve, signal.SIGINT) == 0, log.read_text()[-3000:]  # Ctrl-C
    served = await deployments(SERVE_TAG)
    assert "removed" not in served
    assert served["often"].paused and served["scheduled"].paused  # no runs pile up as Late while nothing serves them
    assert count(engine, IngestRun, IngestRun.status == "running") == 0


def test_serve_without_a_prefect_server_starts_one_for_itself_and_stops_it(site_url, tmp_path):
    config = write_groups(tmp_path / "ingest.toml", f"sqlite:///{tmp_path / 'ingest.db'}", f"{site_url}/sitemap.xml",
                          "often", schedule="schedule = { interval_s = 5 }\n")
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | PREFECT_SERVER_ENV | FAST | {
        "PREFECT_HOME": str(tmp_path / "prefect-home")}  # no profile of the developer's either
    engine = make_engine(f"sqlite:///{tmp_path / 'ingest.db'}")
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        serve = subprocess.Popen([INGEST, "serve", "--config", str(config)], cwd=tmp_path, env=env,
                                 stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: count(engine, IngestRun, IngestRun.status == "ok") >= 1, serve, 120, log)
    finally:
        assert stop(serve, signal.SIGTERM) == 0, log.read_text()[-3000:]  # what a service manager sends
    (api,) = re.findall(r"on (http://127\.0\.0\.1:\d+/api)", log.read_text())
    assert (tmp_path / "data" / "prefect" / "prefect.db").is_file()  # the server's database is ours
    try:
        httpx.get(f"{api}/health", timeout=2)
        raise AssertionError("the local Prefect server outlived ingest serve")
    except httpx.ConnectError:
        pass


def test_deploy_without_a_prefect_server_exits_2(tmp_path):
    config = write_groups(tmp_path / "c.toml", "sqlite:///x.db", "http://127.0.0.1:1/sitemap.xml", "daily")
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(tmp_path / "ph")}
    result = subprocess.run([INGEST, "deploy", "--pool", "p", "--config", str(config)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "set PREFECT_API_URL" in result.stderr


async def test_deploy_to_a_missing_work_pool_exits_2_naming_it_even_over_existing_deployments(prefect_api,
                                                                                             tmp_path):
    from prefect.client.schemas.actions import WorkPoolCreate

    pool = f"test-{uuid.uuid4().hex[:8]}"
    async with get_client() as client:
        await client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    config = write_groups(tmp_path / "c.toml", "sqlite:///x.db", "http://127.0.0.1:1/sitemap.xml", "daily")

    def deploy(to: str) -> subprocess.CompletedProcess:
        return subprocess.run([INGEST, "deploy", "--pool", to, "--config", str(config)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)

    assert deploy(pool).returncode == 0  # the group's deployment exists: moving it to a missing pool was a 500
    result = deploy("no-such-pool")
    message = " ".join(result.stderr.split())
    assert result.returncode == 2 and 'Work pool "no-such-pool" not found' in message, result.stderr
    assert "prefect work-pool create no-such-pool" in message and "Traceback" not in result.stderr


async def test_deploy_carries_a_password_only_as_a_reference_to_the_environment_or_a_secret_block(prefect_api,
                                                                                              tmp_path):
    from prefect.blocks.system import Secret
    from prefect.client.schemas.actions import WorkPoolCreate

    pool = f"test-{uuid.uuid4().hex[:8]}"
    async with get_client() as client:
        await client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    url = "postgresql+psycopg://ingest:s3cret@db.example:5432/ingest"
    config = write_groups(tmp_path / "c.toml", url, "http://127.0.0.1:1/sitemap.xml", "daily")
    block = f"db-{pool}"
    for extra, reference in (([], "env:INGEST_DATABASE_URL"), (["--database-secret", block], f"secret:{block}")):
        result = subprocess.run([INGEST, "deploy", "--pool", pool, "--config", str(config), *extra], cwd=tmp_path,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0 and f"runs write to {reference}" in result.stdout, result.stderr
        async with get_client() as client:
            deployment = await client.read_deployment_by_name("refresh-profiles/daily")
        assert deployment.parameters["settings"]["database_url"] == reference
        assert "s3cret" not in str(deployment.parameters) and "s3cret" not in result.stdout + result.stderr
    assert (await Secret.aload(block)).get() == url


@pytest.mark.postgres
async def test_two_workers_on_a_pool_refresh_a_sharded_group_loading_every_profile_once(
        prefect_api, site, site_url, pg_url, tmp_path):
    pool = f"test-{uuid.uuid4().hex[:8]}"
    created = subprocess.run([sys.executable, "-m", "prefect", "work-pool", "create", pool, "--type", "process"],
                             capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    # The deploying machine's config names the profiles and the database; the workers know neither.
    config = write_groups(tmp_path / "deployer" / "ingest.toml", pg_url, f"{site_url}/sitemap.xml",
                          "corpus", schedule="shards = 2\n")
    deployed = subprocess.run([INGEST, "deploy", "--pool", pool, "--config", str(config)], cwd=tmp_path / "deployer",
                              capture_output=True, text=True, timeout=120)
    assert deployed.returncode == 0, deployed.stderr
    names = ["refresh-profiles/corpus-1-of-2", "refresh-profiles/corpus-2-of-2"]
    assert deployed.stdout.split("\n")[:2] == [f"deployed {name} on work pool {pool}" for name in names]
    assert f"runs write to {pg_url}" in deployed.stdout and f"--pool {pool} --limit 1" in deployed.stdout
    async with get_client() as client:
        shards = [await client.read_deployment_by_name(name) for name in names]
    for deployment in shards:
        assert (deployment.entrypoint, deployment.path, deployment.pull_steps) == (
            "ingest.flows.refresh_profiles.refresh_profiles", None, [])

    engine = make_engine(pg_url)  # initialised here, so the workers' runs start alike
    workers = []
    try:
        for n in (1, 2):
            home = tmp_path / f"worker-{n}"  # another directory, as on another machine
            home.mkdir()
            log = (home / "worker.log").open("w")
            workers.append((subprocess.Popen(
                [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--name", f"worker-{n}",
                 "--limit", "1"],  # as the README starts them: the shards spread over the workers
                cwd=home, env=os.environ | FAST, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True), home / "worker.log"))
        async with get_client() as client:
            runs = [await client.create_flow_run_from_deployment(d.id) for d in shards]
            deadline = time.monotonic() + 180
            while True:
                states = [(await client.read_flow_run(run.id)).state for run in runs]
                if all(state.is_final() for state in states):
                    break
                for worker, log in workers:
                    assert worker.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, "\n".join(log.read_text()[-2000:] for _, log in workers)
                await asyncio.sleep(1)
        states = [state.type.value for state in states]
        assert states == ["COMPLETED", "COMPLETED"], "\n".join(log.read_text()[-2000:] for _, log in workers)
        took = [{str(run.id) for run in runs if f"submitting flow run '{run.id}'" in log.read_text()}
                for _, log in workers]
        assert sorted(map(len, took)) == [1, 1], took  # one shard each, neither worker idle

        # A deployment made before settings travelled: its run would write to ./data/ingest.db in a
        # temporary directory. It fails, saying so, and writes nothing.
        (legacy,) = build(deployment_specs(load_settings(config))[:1], "test-legacy")
        legacy_id = await legacy.apply(work_pool_name=pool)
        async with get_client() as client:
            run = await client.create_flow_run_from_deployment(legacy_id)
            while not (state := (await client.read_flow_run(run.id)).state).is_final():
                assert time.monotonic() < deadline + 120, "\n".join(log.read_text()[-2000:] for _, log in workers)
                await asyncio.sleep(1)
        assert state.type.value == "FAILED" and "refusing to write to sqlite:///data/ingest.db" in state.message, (
            state.message)
    finally:
        for worker, _ in workers:  # each worker and the flow-run processes it started
            os.killpg(worker.pid, signal.SIGTERM)
        for worker, _ in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()

    summaries = rows(engine, IngestRun)
    assert sorted((r.shard, r.shards, r.status) for r in summaries) == [(1, 2, "ok"), (2, 2, "ok")]
    assert sum(r.pages_loaded for r in summaries) == sum(site.corpus.page_count(a) for a in site.corpus.author_ids())
    assert count(engine, Author) == site.corpus.profiles + 1
    pages = [hits for path, hits in site.hits.items() if path.startswith("/author/")]
    assert set(pages) == {1}  # every profile page fetched, by exactly one of the two shards
