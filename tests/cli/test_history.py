"""`ingest backfill` and `ingest history` as a user runs them: the past loaded from the bundled archive, then
each snapshot marked with where its page was seen, and a source's own yearly figures after them."""

from __future__ import annotations

import json

from ingest.config import load_settings
from ingest.pipeline.refresh import refresh
from ingest.site import wayback
from ingest.store import make_engine
from tests.cli.runner import ingest, one_line


def test_a_backfill_then_history_shows_the_archive_s_snapshots_before_the_live_one(site, site_url, tmp_path):
    env = {"INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    done = ingest("backfill", f"{site_url}/author/1001", "--archive", site_url, cwd=tmp_path, **env)
    assert done.returncode == 0, done.stderr
    assert "run 1 (backfill): ok" in done.stdout and "run 2 (walk): ok" in done.stdout  # the archive, then the live walk
    assert list((tmp_path / "data" / "warc").glob("ingest-*.warc.gz"))  # [warc] backfill is on by default
    points = [json.loads(line) for line in ingest("history", "scholarfeed:1001", "--json", cwd=tmp_path,
                                                  **env).stdout.splitlines()]
    captures = wayback.history(site.corpus, 1001)
    assert [(p["seen_in"], p["citations"]) for p in points] == [
        *(("wayback", c.author.citations) for c in captures[::2]),  # stages 0, 1, 2: a change every other year
        ("live", site.corpus.author_record(1001).citations)]
    table = ingest("history", "scholarfeed:1001", cwd=tmp_path, **env)
    assert "seen in" in table.stdout and one_line(table.stdout).count("wayback") == 3


def test_a_backfill_of_a_url_no_source_claims_exits_2_before_anything_starts(site_url, tmp_path):
    done = ingest("backfill", "https://example.org/nobody", "--archive", site_url, cwd=tmp_path,
                  INGEST_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    assert done.returncode == 2 and "is not a profile of any source" in done.stderr


async def test_history_lists_a_source_s_own_yearly_figures_after_the_snapshots(site_url, tmp_path):
    database_url = f"sqlite:///{tmp_path / 'x.db'}"
    settings = load_settings(None, database_url=database_url,
                             profiles={"urls": [f"{site_url}/citations?user=gsEnglish0AJ&hl=en"]})
    assert (await refresh(settings, make_engine(database_url))).status == "ok"
    lines = [json.loads(line) for line in ingest("history", "gscholar:gsEnglish0AJ", "--json", cwd=tmp_path,
                                                 INGEST_DATABASE_URL=database_url).stdout.splitlines()]
    yearly = [line for line in lines if line["seen_in"] == "yearly"]
    assert yearly and lines[0]["seen_in"] == "live" and {line["metric"] for line in yearly} == {"citations"}
    table = ingest("history", "gscholar:gsEnglish0AJ", cwd=tmp_path, INGEST_DATABASE_URL=database_url)
    assert "yearly, as the source counts them" in one_line(table.stdout)
