"""A Prefect server for the commands that run flows (`ingest run`, `ingest serve`) when none is configured.

Not Prefect's temporary server: that one runs no scheduler, so schedules would never fire against it, and
it shares the terminal's process group, so a Ctrl-C kills it under the run, whose client then retries a dead
server for minutes. This one listens on 127.0.0.1 in a session of its own, keeps its database under our
data directory, and lives exactly as long as the `with` block."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import httpx

HOST = "127.0.0.1"
PREFERRED_PORT = 4200  # Prefect's usual port; any free one when taken
STARTUP_TIMEOUT_S = 90.0


def free_port(preferred: int = 0) -> int:
    """`preferred` if it is free, else any free port."""
    with socket.socket() as probe:
        try:
            probe.bind((HOST, preferred))
        except OSError:
            probe.bind((HOST, 0))
        return probe.getsockname()[1]


class LocalServer(NamedTuple):
    url: str  # its API URL
    pid: int | None  # None: a server configured elsewhere, not started here


@contextmanager
def local_server(home: Path, port: int | None = None, env: dict[str, str] | None = None) -> Iterator[LocalServer]:
    """Start `prefect server start` with PREFECT_HOME=`home` (its database: `home`/prefect.db) and `env`
    added to ours; yields it once healthy; stops it after."""
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port(PREFERRED_PORT)
    url = f"http://{HOST}:{port}/api"
    log_path = home / "server.log"
    env = os.environ | {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"} | (env or {})
    env.pop("PREFECT_API_URL", None)
    with log_path.open("ab") as log:
        # Its own session: a Ctrl-C at the terminal must not stop it before `serve` has paused its deployments.
        server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", HOST,
                                   "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the local Prefect server did not start (log: {log_path}):\n{tail}")
            time.sleep(0.25)
        yield LocalServer(url, server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def prefect_api(home: Path, env: dict[str, str] | None = None) -> Iterator[LocalServer]:
    """The configured Prefect API (PREFECT_API_URL); when there is none, a local server (database in `home`,
    `env` added to its environment) for as long as the block runs, this process and its children pointed at it."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if configured := PREFECT_API_URL.value():
        yield LocalServer(configured, None)
        return
    with local_server(home, env=env) as server:
        os.environ["PREFECT_API_URL"] = server.url  # for the processes that run the flows
        try:
            with temporary_settings({PREFECT_API_URL: server.url}):
                yield server
        finally:
            os.environ.pop("PREFECT_API_URL", None)
