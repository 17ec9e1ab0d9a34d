"""What a user reads after a run: the summary, `status`, `runs show`, `quarantine`, `history`, `run --dry-run`,
their JSON for scripts, all within 80 columns."""

from __future__ import annotations

import json
import struct

import pytest

from ingest.site import faults
from tests.cli.runner import ingest, one_line

CAPTCHA = "/author/1005"
FLAKY = "/author/1007"


def fits(text: str, width: int = 80) -> None:
    """No line runs past `width` but for the rest of one long word (a path, a URL), which cannot be broken."""
    too_long = [line for line in text.splitlines() if len(line) > width and " " in line[width:]]
    assert too_long == [], too_long


@pytest.fixture
def troubled_run(prefect_api, site, site_url, tmp_path):
    """A run of the test site where one page answered a CAPTCHA (quarantined) and one kept failing (503)."""
    site.script(CAPTCHA, faults.captcha())
    site.script(FLAKY, *[faults.status(503)] * 2)
    env = {"INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "INGEST_HTTP__MAX_ATTEMPTS": "2",
           "INGEST_HTTP__BACKOFF_BASE_S": "0.01"}
    result = ingest("run", "--sitemap", f"{site_url}/sitemap.xml", cwd=tmp_path, **env)
    return result, env


def test_the_summary_names_the_quarantine_reasons_and_the_database(troubled_run, tmp_path):
    result, _ = troubled_run
    assert result.returncode == 1  # a page failed
    fits(result.stdout)
    text = one_line(result.stdout)
    assert "run 1: failed" in text and "quarantined: blocked (1); `ingest quarantine list` shows them" in text
    assert f"database: sqlite:///{tmp_path / 'x.db'}" in text


def test_status_fits_80_columns_and_shows_every_column_when_wider(troubled_run, tmp_path):
    _, env = troubled_run
    narrow = ingest("status", cwd=tmp_path, **env).stdout
    fits(narrow)
    header = next(line for line in narrow.splitlines() if "status" in line and "run" in line).split()
    assert header == ["run", "started", "status", "fetched", "loaded", "quar.", "failed"]
    row = next(line for line in narrow.splitlines() if line.lstrip().startswith("1 ")).split()
    assert row[3] == "failed" and row[-2:] == ["1", "1"]
    wide = ingest("status", cwd=tmp_path, COLUMNS="160", **env).stdout
    assert "unchanged" in wide and "pages/s" in wide and "1/1" in wide
    (run,) = [json.loads(line) for line in ingest("status", "--json", cwd=tmp_path, **env).stdout.splitlines()]
    assert (run["status"], run["pages_failed"], run["pages_quarantined"]) == ("failed", 1, 1)


def test_runs_show_lists_the_pages_a_run_failed_on_and_quarantined(troubled_run, site_url, tmp_path):
    _, env = troubled_run
    shown = ingest("runs", "show", "1", cwd=tmp_path, **env)
    assert shown.returncode == 0, shown.stderr
    fits(shown.stdout)
    text = one_line(shown.stdout)
    assert "run 1: failed" in text and "pages failed │ 1" in text and "(pid " in text
    rows = [line.split() for line in shown.stdout.splitlines() if line.lstrip().startswith(("failed", "quarantined"))]
    assert [row[:2] for row in rows] == [["failed", "http_503"], ["quarantined", "blocked"]]
    assert "still HTTP 503 after 2" in text and "CAPTCHA" in text  # the details, wrapped in their column
    data = json.loads(ingest("runs", "show", "1", "--json", cwd=tmp_path, **env).stdout)
    assert [(p["outcome"], p["reason"], p["url"]) for p in data["problems"]] == [
        ("failed", "http_503", f"{site_url}{FLAKY}"), ("quarantined", "blocked", f"{site_url}{CAPTCHA}")]
    assert data["problems"][0]["detail"] == "still HTTP 503 after 2 attempts" and data["run"]["status"] == "failed"
    missing = ingest("runs", "show", "7", cwd=tmp_path, **env)
    assert missing.returncode == 2 and "no run 7" in missing.stderr


def test_quarantine_list_show_and_retry(troubled_run, site_url, tmp_path):
    _, env = troubled_run
    listed = ingest("quarantine", "list", cwd=tmp_path, **env)
    fits(listed.stdout)
    assert "blocked" in listed.stdout and f"{site_url}{CAPTCHA}" in one_line(listed.stdout).replace(" ", "")
    (entry,) = [json.loads(line) for line in ingest("quarantine", "list", "--json", cwd=tmp_path, **env).stdout.splitlines()]
    assert (entry["reason"], entry["resolved_at"]) == ("blocked", None)
    assert ingest("quarantine", "list", "--reason", "robots", cwd=tmp_path, **env).stdout.startswith("no quarantined")

    shown = ingest("quarantine", "show", str(entry["id"]), cwd=tmp_path, **env)
    assert shown.returncode == 0 and "unusual traffic" in shown.stdout and "blocked:" in shown.stdout

    retried = ingest("quarantine", "retry", "--reason", "blocked", cwd=tmp_path, **env)  # the site answers now
    assert retried.returncode == 0, retried.stderr
    assert "pages loaded" in retried.stdout
    assert ingest("quarantine", "list", cwd=tmp_path, **env).stdout.startswith("no quarantined pages")
    again = ingest("quarantine", "retry", cwd=tmp_path, **env)
    assert again.returncode == 2 and "nothing to retry" in again.stderr


def test_strict_makes_a_quarantined_page_exit_1(prefect_api, site, site_url, tmp_path):
    site.script(CAPTCHA, faults.captcha(), faults.captcha())
    env = {"INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    lenient = ingest("run", "--sitemap", f"{site_url}/sitemap.xml", cwd=tmp_path, **env)
    strict = ingest("run", "--strict", "--sitemap", f"{site_url}/sitemap.xml", cwd=tmp_path, **env)
    assert (lenient.returncode, strict.returncode) == (0, 1)


def test_dry_run_lists_the_profiles_and_fetches_none(site, site_url, tmp_path):
    result = ingest("run", "--dry-run", "--sitemap", f"{site_url}/sitemap.xml", f"{site_url}/author/1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    listed = [line.split("\t") for line in result.stdout.splitlines() if "\t" in line]
    assert listed[0] == ["scholarfeed", f"{site_url}/author/1"]
    assert len(listed) == len(site.corpus.author_ids())  # the configured one first, then the sitemap's, once each
    assert set(site.hits) == {"/sitemap.xml", "/robots.txt"}
    assert not (tmp_path / "data").exists()


def test_history_prints_plots_and_exports_an_authors_metrics(prefect_api, site, site_url, tmp_path):
    env = {"INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    for _ in range(3):
        assert ingest("-q", "run", f"{site_url}/author/1001", cwd=tmp_path, **env).returncode == 0
        site.corpus.bump_citations(1001)
    table = ingest("history", "scholarfeed:1001", cwd=tmp_path, **env)
    assert table.returncode == 0, table.stderr
    fits(table.stdout)
    citations = site.corpus.author_record(1001).citations
    points = [json.loads(line) for line in ingest("history", f"{site_url}/author/1001?page=2", "--json",
                                                  cwd=tmp_path, **env).stdout.splitlines()]
    assert [p["citations"] for p in points] == [citations - 51, citations - 34, citations - 17]
    assert {"novelty_pct", "ai_score", "h_index", "observed_at"} <= set(points[0])
    plot = ingest("history", "scholarfeed:1001", "--plot", "h.png", cwd=tmp_path, **env)
    assert plot.returncode == 0, plot.stderr
    png = (tmp_path / "h.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    assert struct.unpack(">II", png[16:24]) == (1200, 800)
    unknown = ingest("history", "nobody at all", cwd=tmp_path, **env)
    assert unknown.returncode == 2 and "no author named 'nobody at all'" in unknown.stderr
