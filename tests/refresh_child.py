"""One library refresh in its own process, configured by INGEST_* variables alone (no Prefect):
`python -m tests.refresh_child`. The crash-safety tests SIGKILL it and run it again."""

from __future__ import annotations

import asyncio

from ingest.config import load_settings
from ingest.pipeline.refresh import refresh

if __name__ == "__main__":
    settings = load_settings()
    print("started", flush=True)  # imports done: timed kills count from here
    print(asyncio.run(refresh(settings)).status, flush=True)
