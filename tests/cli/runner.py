"""Running the `ingest` command as a user does: a subprocess of the installed entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

INGEST = str(Path(sys.executable).with_name("ingest"))


def ingest(*args: str, cwd: Path, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess:
    """`ingest ARGS...` in `cwd`, with `env` added to the environment; 80 columns unless COLUMNS says otherwise."""
    return subprocess.run([INGEST, *args], cwd=cwd, env=os.environ | {"COLUMNS": "80"} | env, input=stdin,
                          capture_output=True, text=True, timeout=300)


def one_line(text: str) -> str:
    """Output with its line breaks folded, for matching a sentence a terminal may wrap."""
    return " ".join(text.split())
