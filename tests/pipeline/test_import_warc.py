"""Importing WARC files: a refresh's own WARC files, loaded into a fresh database, give the same authors and
papers; a crawl's file with no profile in it loads nothing and says what it passed over, without failing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ingest.config import load_settings
from ingest.pipeline.import_warc import import_warcs
from ingest.pipeline.refresh import refresh
from ingest.store import AuthorSnapshot, make_engine
from tests.conftest import FIXTURES
from tests.dbutil import natural_dump, rows

INGEST = str(Path(sys.executable).with_name("ingest"))


async def test_a_refresh_written_to_warc_and_imported_into_a_fresh_database_gives_the_same_rows(
        settings, database_url, tmp_path):
    recorded = settings.model_copy(update={"warc": settings.warc.model_copy(
        update={"refresh": True, "directory": str(tmp_path / "warc"), "max_bytes": 64 * 1024})})
    engine = make_engine(database_url)
    assert (await refresh(recorded, engine)).status == "ok"
    files = sorted((tmp_path / "warc").glob("*.warc.gz"))
    assert len(files) > 1  # rotated

    fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    fresh = make_engine(fresh_url)
    run, report = import_warcs(load_settings(None, database_url=fresh_url), fresh, files)
    assert (run.kind, run.status, run.pages_quarantined) == ("import-warc", "ok", 0)
    assert {url.rsplit("/", 1)[1] for url in report.examples["not_claimed"]} == {"robots.txt", "sitemap.xml"}
    assert report.passed_over == {"not_claimed": 2}
    original, imported = natural_dump(engine), natural_dump(fresh)
    for table in ("author", "paper"):
        assert imported[table] == original[table]
    active = {row[:3] for row in original["authorship"] if row[3]}
    assert {row[:3] for row in imported["authorship"]} == active  # none ended: an archive never ends links
    assert {r.seen_in for r in rows(fresh, AuthorSnapshot)} == {"warc"}


def test_the_real_warcio_sample_imports_and_reports_its_pages_as_no_sources(tmp_path):
    done = subprocess.run([INGEST, "import-warc", str(FIXTURES / "warc_warcio_example.warc.gz")], cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "2 not_claimed (e.g. http://example.com/" in done.stdout
    assert "pages loaded" in done.stdout


def test_a_file_that_is_no_warc_exits_2_naming_it(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    done = subprocess.run([INGEST, "import-warc", "notes.txt"], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"},
                          timeout=60)
    assert done.returncode == 2 and "notes.txt: not a WARC file" in done.stderr
