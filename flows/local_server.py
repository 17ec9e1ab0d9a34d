"""A Prefect server for the commands that run flows (`ingest run`, `ingest serve`) when none is configured.

Not Prefect's temporary server: that one runs no scheduler, so schedules would never fire against it, and
it shares the terminal's process group, so a Ctrl-C kills it under the run, whose client then retries a dead
server for minutes. This one listens on 127.0.0.1 in a session of its own and keeps its database under our
data directory. Starting it costs seconds, so by default it is kept (`prefect_server_keep_s`) after the
command that started it: the next command finds it through `HOME/server.json` and starts in a second. A
process of its own (`server_keeper`) stops it once no command has used it for that long, a killed command
included, so nothing is left behind for longer.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import httpx

from ingest.flows.server_keeper import LEASE, LOG, RECORD, prefect_server, stop

HOST = "127.0.0.1"
PREFERRED_PORT = 4200  # Prefect's usual port; any free one when taken
STARTUP_TIMEOUT_S = 90.0
LEASE_EVERY_S = 5.0  # how often a command using a kept server says so


def free_port(preferred: int = 0) -> int:
    """`preferred` if it is free, else any free port. A port whose last connections linger in TIME_WAIT counts
    as free, as it does for the server (uvicorn binds with SO_REUSEADDR): a quick restart keeps its port."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, preferred))
        except OSError:
            probe.bind((HOST, 0))
        return probe.getsockname()[1]


class LocalServer(NamedTuple):
    url: str  # its API URL
    pid: int | None  # None: a server configured elsewhere, not started here


@contextmanager
def local_server(home: Path, port: int | None = None, env: dict[str, str] | None = None,
                 meanwhile: Callable[[], object] = lambda: None) -> Iterator[LocalServer]:
    """Start `prefect server start` with PREFECT_HOME=`home` (its database: `home`/prefect.db) and `env`
    added to ours; calls `meanwhile` while it starts; yields it once healthy; stops it after."""
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port(PREFERRED_PORT)
    url = f"http://{HOST}:{port}/api"
    log_path = home / LOG
    env = os.environ | {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"} | (env or {})
    env.pop("PREFECT_API_URL", None)
    with log_path.open("ab") as log:
        # Its own session: a Ctrl-C at the terminal must not stop it before `serve` has paused its deployments.
        server = subprocess.Popen(prefect_server(HOST, port), env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        meanwhile()
        _wait_healthy(url, lambda: server.poll() is None, log_path)
        yield LocalServer(url, server.pid)
    finally:
        stop(server)


def _wait_healthy(url: str, running: Callable[[], bool], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not _healthy(url):
        if not running() or time.monotonic() > deadline:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the local Prefect server did not start (log: {log_path}):\n{tail}")
        time.sleep(0.1)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def kept_server(home: Path, keep_s: float, port: int | None = None,
                meanwhile: Callable[[], object] = lambda: None) -> Iterator[LocalServer]:
    """The server kept in `home` (started if none runs there, on `port` or else 4200 if free), held for as long
    as the block runs and kept `keep_s` seconds after the last command holding it lets go. `meanwhile` is
    called while it starts."""
    home.mkdir(parents=True, exist_ok=True)
    with _Lease(home / LEASE, every_s=min(LEASE_EVERY_S, keep_s / 4)):
        with (home / "server.lock").open("w") as lock:  # one command at a time finds or starts it
            fcntl.flock(lock, fcntl.LOCK_EX)
            record = running_kept(home) or _start_keeper(home, keep_s, port or free_port(PREFERRED_PORT))
        meanwhile()
        _wait_healthy(record["url"], lambda: _alive(record["pid"]), home / LOG)
        yield LocalServer(record["url"], None)


def stop_kept(home: Path, timeout_s: float = 30.0) -> bool:
    """Stop the server kept in `home` now; False when none runs there."""
    record = running_kept(home)
    if record is None:
        return False
    os.kill(record["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _alive(record["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return True


def running_kept(home: Path) -> dict | None:
    """The record of the server kept in `home` ({"url", "pid"} of its keeper), if its keeper still runs."""
    try:
        record = json.loads((home / RECORD).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return record if _alive(record.get("pid", 0)) else None


def _start_keeper(home: Path, keep_s: float, port: int) -> dict:
    # posix_spawn, not Popen: the keeper outlives this process, and a Popen object would warn when collected.
    pid = os.posix_spawn(sys.executable, [sys.executable, "-m", "ingest.flows.server_keeper", str(home), str(port),
                                          str(keep_s)], os.environ, setsid=True, file_actions=[
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(home / LOG), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2)])
    record = {"url": f"http://{HOST}:{port}/api", "pid": pid}
    staged = home / f"{RECORD}.new"
    staged.write_text(json.dumps(record))
    staged.replace(home / RECORD)
    return record


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    # A keeper this process started and that has exited stays a zombie until reaped: reap it to tell.
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:  # not our child: it runs
        return True


class _Lease:
    """Refreshes the lease file's time every `every_s` from a thread while in use."""

    def __init__(self, path: Path, every_s: float) -> None:
        self.path, self.every_s = path, every_s
        self._done = threading.Event()

    def _hold(self) -> None:
        while not self._done.wait(self.every_s):
            self.path.touch()

    def __enter__(self) -> _Lease:
        self.path.touch()
        threading.Thread(target=self._hold, name="ingest-prefect-lease", daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._done.set()
        self.path.touch()  # the keep time counts from now


@contextmanager
def prefect_api(home: Path, keep_s: float, env: dict[str, str] | None = None,
                meanwhile: Callable[[], object] = lambda: None) -> Iterator[LocalServer]:
    """The configured Prefect API (PREFECT_API_URL); when there is none, the local server in `home` (kept
    `keep_s` seconds after; 0: one of this command's own, `env` added to its environment, stopped with it),
    this process and its children pointed at it while the block runs. `meanwhile` is called before it is
    waited for (the imports a command needs next take as long as a server's start, on another core)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if configured := PREFECT_API_URL.value():
        meanwhile()
        yield LocalServer(configured, None)
        return
    with (kept_server(home, keep_s, meanwhile=meanwhile) if keep_s else
          local_server(home, env=env, meanwhile=meanwhile)) as server:
        os.environ["PREFECT_API_URL"] = server.url  # for the processes that run the flows
        try:
            with temporary_settings({PREFECT_API_URL: server.url}):
                yield server
        finally:
            os.environ.pop("PREFECT_API_URL", None)
