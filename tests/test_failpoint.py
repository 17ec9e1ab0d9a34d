"""Failpoints: INGEST_FAILPOINT=name[:n] kills the process at the n-th pass of that point, and only there;
name:pause=S makes every pass of it wait."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

PASSES = "from ingest.failpoint import failpoint\nfor i in range(4):\n    failpoint('p')\n    print(i, flush=True)\n"


def passes(spec: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "INGEST_FAILPOINT"}
    if spec is not None:
        env["INGEST_FAILPOINT"] = spec
    return subprocess.run([sys.executable, "-c", PASSES], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("spec", "printed"), [("p", []), ("p:1", []), ("p:3", ["0", "1"])])
def test_the_process_is_killed_at_the_nth_pass(spec, printed):
    result = passes(spec)
    assert result.returncode == -signal.SIGKILL and result.stdout.split() == printed


@pytest.mark.parametrize("spec", [None, "", "other", "p:9"])
def test_other_points_and_unset_do_nothing(spec):
    result = passes(spec)
    assert result.returncode == 0 and result.stdout.split() == ["0", "1", "2", "3"]


def test_a_pause_makes_every_pass_wait_and_kills_nothing():
    import time

    started = time.monotonic()
    result = passes("p:pause=0.3")
    assert result.returncode == 0 and result.stdout.split() == ["0", "1", "2", "3"]
    assert time.monotonic() - started >= 1.2  # four passes


def test_a_point_passed_in_a_worker_process_kills_its_run_too():
    worker = "import os\nfrom ingest.failpoint import failpoint, kill_also\nkill_also(os.getppid())\nfailpoint('p')\n"
    run = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {worker!r}])\nprint('run survived', flush=True)\n"
    env = os.environ | {"INGEST_FAILPOINT": "p"}
    result = subprocess.run([sys.executable, "-c", run], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == -signal.SIGKILL and "survived" not in result.stdout
