"""Named crash points for the crash-safety tests.

`INGEST_FAILPOINT=name` (or `name:n`) makes the process SIGKILL itself the first (n-th) time it
passes `failpoint(name)`: no cleanup, no flush, as a power cut or the OOM killer would.
`INGEST_FAILPOINT=name:pause=S` instead makes each pass wait S seconds: a write that takes long, for
what must happen while one is under way. Unset, a check is one string comparison.

Points: `fetched` (a response fully read), `load_before_commit` (inside a batch's load
transaction), `load_committed` (after it, before page state and quarantine are written),
`states_saved` (after those), `batch_done` (a batch counted, others may be in flight).
"""

from __future__ import annotations

import os
import signal
import time

_NAME, _, _COUNT = os.environ.get("INGEST_FAILPOINT", "").partition(":")
_PAUSE_S = float(_COUNT.removeprefix("pause=")) if _COUNT.startswith("pause=") else None
_remaining = 1 if _PAUSE_S is not None else int(_COUNT or 1)
_also: list[int] = []  # processes that die with this one: a worker's run


def kill_also(pid: int) -> None:
    """At a failpoint, kill `pid` as well: a point passed in a worker process ends the whole run."""
    _also.append(pid)


def failpoint(name: str) -> None:
    global _remaining
    if name != _NAME:
        return
    if _PAUSE_S is not None:
        time.sleep(_PAUSE_S)
        return
    _remaining -= 1
    if _remaining == 0:
        for pid in _also:
            os.kill(pid, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)
