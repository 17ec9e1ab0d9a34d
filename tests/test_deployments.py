"""Deployments from the config: served by `ingest serve` on their schedules, registered by `ingest deploy`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
from prefect.client.orchestration import get_client

from ingest.config import load_settings
from ingest.db import IngestRun, make_engine
from ingest.flows.deployments import SERVE_TAG, build, prune
from ingest.schedules import deployment_specs
from tests.conftest import PREFECT_SERVER_ENV
from tests.dbutil import count
from tests.test_cli import INGEST

FAST = {"PREFECT_RUNNER_POLL_FREQUENCY": "1", "PREFECT_WORKER_QUERY_SECONDS": "1"}


def write_groups(path: Path, database_url: str, sitemap: str, *groups: str, schedule: str = "") -> Path:
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


async def test_deployments_have_module_entrypoints_and_a_restart_resumes_a_paused_one(prefect_api, tmp_path):
    config = write_groups(tmp_path / "c.toml", "sqlite:///x.db", "http://127.0.0.1:1/sitemap.xml", "resumed",
                          schedule="schedule = { interval_s = 3600 }\n")
    specs = deployment_specs(load_settings(config))
    (deployment,) = build(specs, "test-resume")
    assert deployment.entrypoint == "ingest.flows.refresh_profiles.refresh_profiles"
    first = await deployment.apply()
    async with get_client() as client:
        await client.pause_deployment(first)
        assert (await client.read_deployment(first)).paused
        (again,) = build(specs, "test-resume")
        assert await again.apply() == first
        assert not (await client.read_deployment(first)).paused


async def test_prune_deletes_only_tagged_deployments_whose_group_is_gone(prefect_api, tmp_path):
    def specs(*names: str):
        return deployment_specs(load_settings(write_groups(
            tmp_path / "c.toml", "sqlite:///x.db", "http://127.0.0.1:1/sitemap.xml", *names)))

    for deployment in build(specs("kept", "gone"), "test-prune") + build(specs("elsewhere"), "test-other"):
        await deployment.apply()
    assert await prune("test-prune", {"kept"}) == ["gone"]
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
    engine = make_engine(database_url)
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        serve = subprocess.Popen([INGEST, "serve", "--config", str(config)], cwd=tmp_path, env=os.environ | FAST,
                                 stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: count(engine, IngestRun, IngestRun.status == "ok") >= 1, serve, 90, log)
    finally:
        assert stop(serve, signal.SIGINT) == 0, log.read_text()[-3000:]  # Ctrl-C
    served = await deployments(SERVE_TAG)
    assert "removed" not in served
    assert served["often"].paused  # no runs pile up as Late while nothing serves it
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
