"""`ingest profiles`: a registry of profiles in the database, in groups runs can name; URLs on the command line
still override it for one run."""

from __future__ import annotations

import json

from tests.cli.runner import ingest, one_line


def registered(tmp_path, env, *args: str) -> list[dict]:
    result = ingest("profiles", "list", "--json", *args, cwd=tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def database(tmp_path) -> dict[str, str]:
    return {"INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}


def test_add_list_and_remove_profiles_in_groups(tmp_path):
    env = database(tmp_path)
    added = ingest("profiles", "add", "http://127.0.0.1:8740/author/1", "http://127.0.0.1:8740/author/1002?page=3",
                   "--group", "daily", cwd=tmp_path, **env)
    assert added.returncode == 0, added.stderr
    assert "added 2 profiles to group daily (0 were registered already)" in one_line(added.stdout)
    again = ingest("profiles", "add", "http://127.0.0.1:8740/author/1", cwd=tmp_path, **env)
    assert "added 0 profiles to group default (1 were registered already)" in one_line(again.stdout)

    assert registered(tmp_path, env) == [
        {"url": "http://127.0.0.1:8740/author/1", "source": "scholarfeed", "source_id": "1", "group": "daily"},
        {"url": "http://127.0.0.1:8740/author/1002", "source": "scholarfeed", "source_id": "1002", "group": "daily"},
    ]  # any page of a profile registers its first page, once
    listing = ingest("profiles", "list", cwd=tmp_path, **env)
    assert listing.stdout.splitlines() == ["daily\tscholarfeed\thttp://127.0.0.1:8740/author/1",
                                           "daily\tscholarfeed\thttp://127.0.0.1:8740/author/1002"]

    removed = ingest("profiles", "remove", "http://127.0.0.1:8740/author/1002", cwd=tmp_path, **env)
    assert "removed 1 of 1 profiles" in one_line(removed.stdout)
    assert [entry["source_id"] for entry in registered(tmp_path, env)] == ["1"]
    assert registered(tmp_path, env, "--group", "weekly") == []


def test_import_reads_one_url_a_line_or_csv_with_a_url_column(tmp_path):
    env = database(tmp_path)
    (tmp_path / "list.txt").write_text("# our authors\nhttp://127.0.0.1:8740/author/1001\n\n"
                                       "http://127.0.0.1:8740/author/1002\n")
    (tmp_path / "list.csv").write_text("name,URL\nAda,http://127.0.0.1:8740/author/1003\nBob,\n")
    assert ingest("profiles", "import", "list.txt", cwd=tmp_path, **env).returncode == 0
    result = ingest("profiles", "import", "-", "--group", "csv", cwd=tmp_path, stdin=(tmp_path / "list.csv").read_text(),
                    **env)
    assert result.returncode == 0, result.stderr
    assert [(e["group"], e["source_id"]) for e in registered(tmp_path, env)] == [
        ("default", "1001"), ("default", "1002"), ("csv", "1003")]


def test_a_url_no_source_claims_is_refused_and_nothing_is_registered(tmp_path):
    env = database(tmp_path)
    result = ingest("profiles", "add", "http://127.0.0.1:8740/author/1", "http://example.org/people/ada",
                    cwd=tmp_path, **env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "http://example.org/people/ada" in one_line(result.stderr)
    assert ingest("profiles", "list", cwd=tmp_path, **env).returncode == 2  # no database was created


def test_runs_refresh_a_registry_group_and_command_line_urls_override_it(prefect_api, site, site_url, tmp_path):
    env = database(tmp_path)
    ids = site.corpus.author_ids()[:3]
    assert ingest("profiles", "add", *[f"{site_url}/author/{i}" for i in ids[:2]], "--group", "mine", cwd=tmp_path,
                  **env).returncode == 0
    assert ingest("profiles", "add", f"{site_url}/author/{ids[2]}", "--group", "theirs", cwd=tmp_path,
                  **env).returncode == 0

    def planned(*args: str) -> list[str]:
        return [line for line in ingest("run", *args, "--dry-run", cwd=tmp_path, **env).stdout.splitlines()
                if "\t" in line]

    assert planned("--group", "mine") == [f"scholarfeed\t{site_url}/author/{i}" for i in ids[:2]]
    assert len(planned()) == 3  # no [profiles] configured: the whole registry
    assert planned(f"{site_url}/author/1") == [f"scholarfeed\t{site_url}/author/1"]

    run = ingest("run", "--group", "mine", cwd=tmp_path, **env)
    assert run.returncode == 0, run.stderr
    assert "pages fetched │ 2 │" in one_line(run.stdout) and "authors inserted │ 2 │" in one_line(run.stdout)
