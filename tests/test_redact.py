"""Credentials are masked in messages, log records and tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ingest.redact import redact


@pytest.mark.parametrize(("text", "expected"), [
    ("postgresql+psycopg://ingest:s3cret@db:5432/ingest", "postgresql+psycopg://ingest:***@db:5432/ingest"),
    ("GET http://u:p%40ss@h/x failed", "GET http://u:***@h/x failed"),
    ("engine url='mysql://root:hunter2@localhost/db'", "engine url='mysql://root:***@localhost/db'"),
    ("Authorization: Bearer abc.def", "Authorization: ***"),
    ("{'authorization': 'Basic dXNlcjpwYXNz', 'accept': '*/*'}", "{'authorization': '***', 'accept': '*/*'}"),
    ("Cookie: session=abc; theme=dark", "Cookie: ***"),
    ("x-api-key: k123\r\naccept: */*", "x-api-key: ***\r\naccept: */*"),
    ("X-Api-Key=k123", "X-Api-Key=***"),
    ("host=db user=ingest password=s3cret dbname=x", "host=db user=ingest password=*** dbname=x"),
    ("postgresql://db/x?password=s3cret&sslmode=require", "postgresql://db/x?password=***&sslmode=require"),
])
def test_credentials_are_masked(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "http://127.0.0.1:8740/author/1?page=2", "sqlite:///data/ingest.db", "postgresql+psycopg://postgres@127.0.0.1/test",
    "https://arxiv.org/abs/2306.13239", "mailto:someone@example.org", "Sashank Reddi: LG, h-index 117",
])
def test_text_without_credentials_is_left_alone(text):
    assert redact(text) == text


CHILD = """
import logging, sys
from ingest import redact
redact.install()
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
log = logging.getLogger("prefect.flow_runs")
log.warning("connecting to %s", "postgresql://u:s3cret@db/x")
try:
    raise RuntimeError("cannot use postgresql://u:s3cret@db/x")
except RuntimeError:
    log.exception("failed")
log.info("bad format %s %s", "only one")
raise ValueError("Authorization: Bearer s3cret")
"""


def test_installed_redaction_covers_log_records_tracebacks_and_uncaught_errors():
    result = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60,
                            env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)})
    assert result.returncode == 1
    assert "s3cret" not in result.stderr
    assert "connecting to postgresql://u:***@db/x" in result.stderr
    assert "RuntimeError: cannot use postgresql://u:***@db/x" in result.stderr  # the logged traceback
    assert "ValueError: Authorization: ***" in result.stderr  # the uncaught one
    assert "--- Logging error ---" in result.stderr  # a broken log call still reports, and does not raise
