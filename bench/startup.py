"""Start-up: the wall time of a one-profile `ingest run` with no Prefect server configured, as a user at a
terminal or in cron sees it.

`cold`: no local server kept, so the command starts one (its database already made by an untimed first run,
as after a user's first command). `warm`: the next command, which finds the server the previous one kept.
Each run refreshes a profile not refreshed before, into a fresh SQLite file: extraction and a load included.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

INGEST = str(Path(sys.executable).with_name("ingest"))


def _ingest(*args: str, workdir: Path, database: str | None = None) -> float:
    """Seconds `ingest ARGS` takes, run in `workdir` with no Prefect server configured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "INGEST_"))}
    env |= {"INGEST_DATA_DIR": str(workdir / "data"), "DO_NOT_TRACK": "1"}
    if database:
        env["INGEST_DATABASE_URL"] = database
    started = time.perf_counter()
    done = subprocess.run([INGEST, "-q", *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"ingest {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
    return time.perf_counter() - started


class OneProfileRuns:
    """`ingest run` of one profile at a time against `site_base`, in `workdir`."""

    def __init__(self, site_base: str, workdir: Path) -> None:
        self.site_base, self.workdir = site_base, workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self._next = 0
        self._run()  # the Prefect database is made once per data directory: not what a user waits for again
        _ingest("prefect", "--stop", workdir=workdir)

    def _run(self) -> float:
        self._next += 1
        database = f"sqlite:///{self.workdir / f'one-{self._next}.db'}"
        return _ingest("run", f"{self.site_base}/author/{1000 + self._next}", workdir=self.workdir,
                       database=database)

    def measure(self) -> dict:
        """A cold run, then a warm one; the kept server stopped after."""
        cold = self._run()
        warm = self._run()
        _ingest("prefect", "--stop", workdir=self.workdir)
        return {"cold_s": round(cold, 2), "warm_s": round(warm, 2)}
