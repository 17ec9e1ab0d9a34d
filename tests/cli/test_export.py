"""`ingest export` as a downstream team's script runs it: a full export, then the changes since its manifest."""

from __future__ import annotations

import json

from ingest.pipeline.refresh import refresh
from tests.cli.runner import ingest, one_line


async def test_a_full_export_then_one_since_its_manifest_takes_only_the_change(site, settings, engine, tmp_path):
    await refresh(settings, engine)
    url = settings.database_url
    full = ingest("export", "--out", str(tmp_path / "full"), "--database", url, cwd=tmp_path)
    assert full.returncode == 0, full.stderr
    assert "paper.jsonl" in full.stdout and "--since" in one_line(full.stdout)
    first = json.loads((tmp_path / "full" / "manifest.json").read_text())

    site.corpus.bump_citations(1002)
    await refresh(settings, engine)
    later = ingest("-q", "export", "--format", "csv", "--out", str(tmp_path / "later"),
                   "--since", str(tmp_path / "full" / "manifest.json"), "--database", url, cwd=tmp_path)
    assert later.returncode == 0, later.stderr
    manifest = json.loads((tmp_path / "later" / "manifest.json").read_text())
    assert later.stdout.strip() == str(manifest["cursor"]) and manifest["since"] == first["cursor"]
    assert (manifest["files"]["author"]["rows"], manifest["files"]["paper"]["rows"]) == (1, 0)
    assert (tmp_path / "later" / "author.csv").read_text().count("\n") == 2  # the header and the author


def test_a_bad_cursor_or_format_is_one_sentence_and_exit_2(tmp_path, engine):
    url = str(engine.url)
    for args, words in ((["--since", "nosuch.json"], "neither a cursor"), (["--since", "99"], "ahead"),
                        (["--format", "xml"], "xml")):
        result = ingest("export", "--out", str(tmp_path / "x"), *args, "--database", url, cwd=tmp_path)
        assert result.returncode == 2 and words in one_line(result.stderr), result.stderr
        assert "Traceback" not in result.stderr
