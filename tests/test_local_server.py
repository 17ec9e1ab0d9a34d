"""The local Prefect server a command starts when none is configured: kept for the next command, never left
behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from ingest.flows.local_server import free_port, kept_server

KEEP_S = 3.0
GONE_WITHIN_S = KEEP_S + 30  # the keeper looks every second, then gives the server 20 s to stop


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def wait_gone(pids: list[int]) -> list[int]:
    """The pids still running after GONE_WITHIN_S (polled)."""
    deadline = time.monotonic() + GONE_WITHIN_S
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return [pid for pid in pids if alive(pid)]


def keeper_pid(home: Path) -> int:
    return json.loads((home / "server.json").read_text())["pid"]


def test_the_next_command_finds_the_kept_server_and_it_stops_once_unused(tmp_path):
    with kept_server(tmp_path, KEEP_S, free_port()) as first:
        assert healthy(first.url)
        keeper = keeper_pid(tmp_path)
        server = children(keeper)
    assert healthy(first.url)  # kept after the command that started it
    with kept_server(tmp_path, KEEP_S, free_port()) as second:
        assert second.url == first.url and keeper_pid(tmp_path) == keeper
    assert wait_gone([keeper, *server]) == []
    assert not healthy(first.url)
    assert not (tmp_path / "server.json").exists()


def test_a_server_is_kept_while_a_command_uses_it_however_long(tmp_path):
    with kept_server(tmp_path, KEEP_S, free_port()) as server:
        time.sleep(KEEP_S * 2.5)
        assert healthy(server.url)


def test_commands_starting_together_share_one_server(tmp_path):
    urls: list[str] = []
    port = free_port()

    def command() -> None:
        with kept_server(tmp_path, KEEP_S, port) as server:
            urls.append(server.url)

    threads = [threading.Thread(target=command) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(urls) == 2 and urls[0] == urls[1]
    assert wait_gone([keeper_pid(tmp_path)]) == []


def hold(server: str, home: Path) -> tuple[subprocess.Popen, str]:
    """A process that enters `server` (an expression over `home` and `port`) and holds it; with its URL."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom pathlib import Path\n"
         "from ingest.flows.local_server import kept_server, local_server\n"
         f"home, port = Path(sys.argv[1]), {free_port()}\n"
         f"with {server} as server:\n    print(server.url, flush=True)\n    time.sleep(600)\n", str(home)],
        stdout=subprocess.PIPE, text=True)
    return holder, holder.stdout.readline().strip()


def test_a_command_killed_with_sigkill_leaves_no_kept_server_behind(tmp_path):
    holder, url = hold(f"kept_server(home, {KEEP_S}, port)", tmp_path)
    try:
        assert healthy(url)
        keeper = keeper_pid(tmp_path)
        server = children(keeper)
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert wait_gone([keeper, *server]) == []
    finally:
        holder.kill()
        holder.wait()


def test_a_command_killed_with_sigkill_takes_its_own_server_with_it(tmp_path):
    holder, url = hold("local_server(home, port)", tmp_path)
    try:
        assert healthy(url)
        server = children(holder.pid)
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert server and wait_gone(server) == []
    finally:
        holder.kill()
        holder.wait()


def test_ingest_prefect_shows_the_kept_server_and_stops_it(tmp_path):
    from tests.cli.runner import ingest

    with kept_server(tmp_path / "data" / "prefect", 600, free_port()) as server:
        keeper = keeper_pid(tmp_path / "data" / "prefect")
        shown = ingest("prefect", cwd=tmp_path, INGEST_PREFECT_SERVER_KEEP_S="600")
        assert shown.returncode == 0 and server.url in shown.stdout and "kept 600 s" in shown.stdout
        stopped = ingest("prefect", "--stop", cwd=tmp_path)
        assert stopped.returncode == 0 and "stopped" in stopped.stdout
        assert not alive(keeper) and not healthy(server.url)
    assert "no Prefect server is kept" in ingest("prefect", cwd=tmp_path).stdout
