"""Every error a user can cause: one sentence saying what to do, exit status 2 (usage, configuration,
database) or 1 (a run that failed), no traceback; `--debug` adds it. Nothing is created on the way."""

from __future__ import annotations

import json

import pytest

from ingest.site.server import Response
from tests.cli.runner import ingest, one_line

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def refused(result, *words: str, code: int = 2) -> None:
    """Exit `code`, one line on stderr holding `words`, nothing on stdout, no traceback."""
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert all(word in lines[0] for word in words), lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize(("database", "words"), [
    ("mysql://user@localhost/db", ("mysql is not supported", "postgresql+psycopg://")),
    ("postgresql+asyncpg://user@localhost/db", ("postgresql+asyncpg is not supported",)),
    ("not a url", ("not a database URL",)),
])
def test_a_database_url_ingest_cannot_use_is_a_configuration_error(tmp_path, database, words):
    refused(ingest("run", "http://127.0.0.1:9/author/1", "--database", database, cwd=tmp_path),
            "configuration error", *words)


@pytest.mark.postgres
@pytest.mark.parametrize(("database", "words"), [
    (PG.replace(":5432/", ":1/"), ("Connection refused",)),
    (PG.replace("/test", "/no_such_database"), ('database "no_such_database" does not exist',)),
    (PG.replace("postgres@", "no_such_role@"), ('role "no_such_role" does not exist',)),
])
def test_a_database_that_cannot_be_reached_says_so(tmp_path, database, words):
    for command in (("status",), ("run", "http://127.0.0.1:9/author/1")):
        refused(ingest(*command, "--database", database, cwd=tmp_path), "cannot open the database", *words,
                "check database_url")


def test_a_sqlite_file_that_cannot_be_created_says_so(tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    refused(ingest("run", "http://127.0.0.1:9/author/1", "--database", f"sqlite:///{tmp_path}/a-file/x.db",
                   cwd=tmp_path), "cannot create the database", "a-file/x.db")


@pytest.mark.parametrize(("url", "words"), [
    ("http://[::1:8740/author/1", ("not a URL", "Invalid IPv6 URL")),
    ("http://", ("not an http(s) URL with a host",)),
    ("ftp://127.0.0.1/author/1", ("not an http(s) URL with a host",)),
    ("http://127.0.0.1:9/about", ("is not a profile of any source",)),
])
def test_a_profile_url_that_cannot_be_refreshed_is_named(tmp_path, url, words):
    refused(ingest("run", url, cwd=tmp_path), *words)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("answer", [Response(404, b"gone"), Response(200, b"<html>a page</html>",
                                                                     {"Content-Type": "text/html"})],
                         ids=["404", "html"])
def test_a_sitemap_that_cannot_be_read_is_a_failed_run_that_says_why(prefect_api, site, site_url, tmp_path, answer):
    site.script("/sitemap.xml", answer)
    env = {"INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    refused(ingest("run", "--sitemap", f"{site_url}/sitemap.xml", cwd=tmp_path, **env),
            "cannot plan the run: sitemap", f"{site_url}/sitemap.xml")
    (run,) = (json.loads(line) for line in ingest("status", "--json", cwd=tmp_path, **env).stdout.splitlines())
    assert run["status"] == "failed" and "sitemap" in run["detail"]


def test_a_sitemap_on_a_site_that_is_not_running_says_so(prefect_api, tmp_path):
    env = {"INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "INGEST_HTTP__MAX_ATTEMPTS": "1"}
    refused(ingest("run", "--sitemap", "http://127.0.0.1:9/sitemap.xml", cwd=tmp_path, **env),
            "cannot plan the run: sitemap http://127.0.0.1:9/sitemap.xml", "connection")


def test_nothing_to_refresh_is_an_error_naming_where_profiles_come_from(tmp_path):
    result = ingest("run", cwd=tmp_path)
    refused(result, "no profiles to refresh", "--sitemap", "ingest profiles add", "[profiles]",
            "no config file at config/ingest.toml")
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("command", [("status",), ("runs", "show", "1"), ("quarantine", "list"), ("profiles", "list"),
                                     ("history", "scholarfeed:1"), ("reparse",), ("db", "current")])
def test_commands_that_read_a_database_never_create_one(tmp_path, command):
    refused(ingest(*command, "--database", f"sqlite:///{tmp_path}/typo.db", cwd=tmp_path),
            f"no database at {tmp_path}/typo.db", "check database_url")
    assert not (tmp_path / "typo.db").exists()


def test_debug_shows_the_traceback(tmp_path):
    result = ingest("--debug", "status", "--database", f"sqlite:///{tmp_path}/typo.db", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" in result.stderr and "DatabaseMissing" in result.stderr


def test_usage_errors_exit_2_with_clicks_message(tmp_path):
    for args, words in ((("status", "--limit", "-1"), "--limit"), (("nosuch",), "No such command"),
                        (("run", "--shard", "4/3"), "4/3")):
        result = ingest(*args, cwd=tmp_path)
        assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr


def test_help_and_version(tmp_path):
    short, long = ingest("-h", cwd=tmp_path), ingest("--help", cwd=tmp_path)
    assert short.returncode == 0 and short.stdout == long.stdout
    assert "<bool>" not in short.stdout and "Usage: ingest" in short.stdout
    version = ingest("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("ingest ")
    run_help = one_line(ingest("run", "-h", cwd=tmp_path).stdout)
    assert "[[groups]]" in run_help and "--dry-run" in run_help and "--strict" in run_help
