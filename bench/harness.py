"""The bench's processes: the bundled site and a Prefect server as subprocesses, one worker process per
measurement, and a throwaway PostgreSQL schema.

Every measurement runs in a fresh worker process (`python -m bench.worker`), so it has its own peak RSS,
no caches warmed by an earlier one, and the site's event loop never shares a core's interpreter with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from ingest.flows.local_server import free_port, local_server
from tests.dbutil import scratch_schema

HOST = "127.0.0.1"  # the bench never talks to anything but loopback
PG_URL = os.environ.get("INGEST_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
QUIET_ENV = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false"}


def _wait_until(ready, process: subprocess.Popen, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{what} did not start (exit {process.poll()})")
        time.sleep(0.1)


@dataclass
class Server:
    """A server in its own process; `cpu_s()` is its CPU time so far, children included, so every figure
    can say how much of the machine the server took meanwhile (is it the limit? what does it cost?)."""

    name: str
    base: str
    pid: int

    def cpu_s(self) -> float:
        process = psutil.Process(self.pid)
        return sum(sum(p.cpu_times()[:2]) for p in [process, *process.children(recursive=True)])


@contextmanager
def site_server(profiles: int) -> Iterator[Server]:
    port = free_port()
    ingest = Path(sys.executable).with_name("ingest")
    process = subprocess.Popen([str(ingest), "site", "--host", HOST, "--port", str(port), "--profiles", str(profiles)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://{HOST}:{port}"
    try:
        _wait_until(lambda: httpx.get(f"{base}/robots.txt", timeout=1).status_code == 200, process, "ingest site")
        yield Server("site", base, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=20)


@contextmanager
def prefect_server() -> Iterator[tuple[Server, float]]:
    """A local `prefect server start` (the one `ingest serve` starts) with a throwaway home; yields it
    (`base` is its API URL) and its start-up seconds."""
    with tempfile.TemporaryDirectory(prefix="bench-prefect-") as home:
        started = time.perf_counter()
        with local_server(Path(home), free_port(), QUIET_ENV) as (url, pid):
            yield Server("prefect", url, pid), time.perf_counter() - started


def pg_schema() -> AbstractContextManager[str]:
    """A fresh schema in the bench PostgreSQL, dropped afterwards; yields a URL whose search_path is it."""
    return scratch_schema(PG_URL, "bench")


def run_worker(job: str, *servers: Server, env: dict[str, str] | None = None, **args) -> dict:
    """Run `job` in a fresh `python -m bench.worker` process; returns its result, plus each server's CPU share
    (its CPU seconds meanwhile over the job's timed seconds)."""
    cpu_before = [server.cpu_s() for server in servers]
    done = subprocess.run(
        [sys.executable, "-m", "bench.worker", job], input=json.dumps(args),  # stdin: URL lists exceed argv
        capture_output=True, text=True, env=os.environ | QUIET_ENV | (env or {}),
        cwd=Path(__file__).resolve().parent.parent, timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench worker {job} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for server, before in zip(servers, cpu_before):
        result[f"{server.name}_cpu_share"] = round((server.cpu_s() - before) / result["seconds"], 3)
    return result


def temp_sqlite_url(directory: str) -> str:
    return f"sqlite:///{Path(directory) / f'bench-{uuid.uuid4().hex[:8]}.db'}"
