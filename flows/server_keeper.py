"""The process that keeps a local Prefect server between commands: `python -m ingest.flows.server_keeper HOME PORT
KEEP_S`.

It runs `prefect server start` as its child and stops it once no command has held the lease (`HOME/lease`, whose
modification time the commands using the server refresh) for KEEP_S seconds, or on SIGTERM. A command killed
with SIGKILL stops refreshing the lease, so the server never outlives its last user by more than KEEP_S. It runs
in a session of its own (a Ctrl-C at the terminal must not take the server from under a run), imports only the
standard library, and removes `HOME/server.json` (the record commands find it by) when it goes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

CHECK_EVERY_S = 1.0
# The files in HOME that the keeper and the commands share.
LEASE, RECORD, LOG = "lease", "server.json", "server.log"


def prefect_server(host: str, port: int) -> list[str]:
    """The command line of `prefect server start`, in a process that is sent SIGTERM when the one that started
    it dies, however it dies (Linux's PR_SET_PDEATHSIG, which survives the exec; elsewhere a plain start)."""
    die_with_parent = ("import ctypes, os, signal, sys\n"
                       "try:\n    ctypes.CDLL(None).prctl(1, signal.SIGTERM)\nexcept (OSError, AttributeError):\n    pass\n"
                       "os.execv(sys.executable, [sys.executable, '-m', 'prefect', *sys.argv[1:]])")
    return [sys.executable, "-c", die_with_parent, "server", "start", "--host", host, "--port", str(port)]


def lease_age(home: Path) -> float:
    """Seconds since a command last refreshed the lease (infinite when there is none)."""
    try:
        return time.time() - (home / LEASE).stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def stop(server: subprocess.Popen) -> None:
    """SIGTERM, 20 s to go, then SIGKILL."""
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def keep(home: Path, port: int, keep_s: float) -> int:
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    env = os.environ | {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    with (home / LOG).open("ab") as log:
        server = subprocess.Popen(prefect_server("127.0.0.1", port), env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        while not stopping and server.poll() is None and lease_age(home) <= keep_s:
            time.sleep(CHECK_EVERY_S)
    finally:
        _forget(home)
        stop(server)
    return 0


def _forget(home: Path) -> None:
    """Remove the record commands find the server by, unless it already names a newer keeper."""
    record = home / RECORD
    try:
        if json.loads(record.read_text())["pid"] == os.getpid():
            record.unlink()
    except (FileNotFoundError, ValueError, KeyError):
        pass


if __name__ == "__main__":
    sys.exit(keep(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
