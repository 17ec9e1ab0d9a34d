"""The `ingest` command as a user runs it: subprocesses against the bundled site and real databases."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from ingest.site.corpus import Corpus
from ingest.site.gscholar import default_profiles
from ingest.store import Author, Authorship, Paper, make_engine
from tests.cli.runner import ingest
from tests.conftest import FIXTURES, _free_port
from tests.dbutil import dump_records
from tests.sources.scholarfeed.test_extract import EXPECTED_PAPERS


def test_help_explains_every_command(tmp_path):
    result = ingest("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("run", "demo", "site", "status", "extract", "reparse", "sources", "export", "serve", "deploy", "db"):
        assert command in result.stdout


def test_demo_loads_the_seed_author_and_a_second_demo_changes_nothing(prefect_api, database_url, tmp_path):
    port = str(_free_port())
    first = ingest("demo", "--profiles", "20", "--port", port, cwd=tmp_path, INGEST_DATABASE_URL=database_url)
    assert first.returncode == 0, first.stderr
    assert "Sashank Reddi: LG, h-index 117, 6,445 citations, 11 papers (11 linked), novelty 60%, AI score 45" in " ".join(first.stdout.split())

    engine = make_engine(database_url)
    with engine.connect() as conn:
        (author,) = conn.execute(select(Author.__table__).where(Author.name == "Sashank Reddi")).all()
        papers = conn.execute(
            select(Paper.__table__).join(Authorship.__table__, Authorship.paper_id == Paper.id)
            .where(Authorship.author_id == author.id).order_by(Authorship.position)
        ).all()
    assert (author.source_fields, author.h_index, author.citations, author.paper_count, author.source_metrics) == (
        {"category": "LG"}, 117, 6445, 11, {"novelty_pct": 60, "ai_score": 45})
    own = [p.source_fields["scholarfeed"] for p in papers]
    assert [(o["category"], p.published_on, o["has_code"], p.title, p.authors, p.authors_truncated, o["orgs"],
             p.arxiv_id) for p, o in zip(papers, own)] == [tuple(e) for e in EXPECTED_PAPERS]
    before = dump_records(engine)

    second = ingest("demo", "--profiles", "20", "--port", port, cwd=tmp_path, INGEST_DATABASE_URL=database_url)
    assert second.returncode == 0, second.stderr
    assert dump_records(engine) == before
    status = ingest("status", "--json", cwd=tmp_path, INGEST_DATABASE_URL=database_url)
    latest, first_run = (json.loads(line) for line in status.stdout.splitlines())
    assert latest["status"] == first_run["status"] == "ok"
    # What the demo served, all loaded then all unchanged: the corpus's pages and one page per Scholar-like
    # profile (100 rows each; robots.txt keeps the walk of the longest from going further).
    corpus, scholar = Corpus(20), default_profiles()
    pages = sum(corpus.page_count(a) for a in corpus.author_ids()) + len(scholar)
    with engine.connect() as conn:
        loaded = set(conn.scalars(select(Author.source_id).where(Author.source == "gscholar")))
    assert loaded == set(scholar)
    assert latest["pages_unchanged"] == latest["pages_fetched"] == first_run["pages_loaded"] == pages
    assert latest["pages_loaded"] == latest["papers_inserted"] == latest["authors_updated"] == 0
    engine.dispose()


def test_demo_defaults_to_a_sqlite_file_in_data(prefect_api, tmp_path):
    result = ingest("demo", "--profiles", "3", "--port", str(_free_port()), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "ingest.db").is_file()


def test_a_failed_page_exits_1(prefect_api, tmp_path):
    dead = f"http://127.0.0.1:{_free_port()}/author/9"
    result = ingest("run", dead, cwd=tmp_path, INGEST_HTTP__MAX_ATTEMPTS="1",
                    INGEST_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    assert result.returncode == 1
    assert "connection" in result.stderr


@pytest.mark.parametrize(("config", "names"), [
    ("batch_size = 'many'\n", ["batch_size", "integer"]),
    ("[http]\nmax_atempts = 3\n", ["http.max_atempts", "Extra inputs are not permitted"]),
    ("[profiles\n", ["invalid TOML"]),
])
def test_an_invalid_config_exits_2_naming_file_key_and_reason(tmp_path, config, names):
    path = tmp_path / "bad.toml"
    path.write_text(config)
    result = ingest("run", "--config", str(path), cwd=tmp_path)
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert str(path) in message and all(name in message for name in names)


def test_a_usage_error_exits_2(tmp_path):
    assert ingest("run", "--no-such-flag", cwd=tmp_path).returncode == 2


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_passwords_never_reach_the_output(prefect_api, database_url, site_url, tmp_path):
    """A database URL's password (trust auth ignores it) and a profile URL's, through run (Prefect's
    logs included), status, demo and a failed connection."""
    secret = "s3cret-pw"
    url = database_url.replace("postgres@", f"postgres:{secret}@", 1)
    credentialed = site_url.replace("http://", f"http://reader:{secret}@") + "/author/404"
    run = ingest("run", f"{site_url}/author/1", credentialed, cwd=tmp_path, INGEST_DATABASE_URL=url)
    status = ingest("status", cwd=tmp_path, INGEST_DATABASE_URL=url)
    demo = ingest("demo", "--profiles", "2", "--port", str(_free_port()), cwd=tmp_path, INGEST_DATABASE_URL=url)
    unreachable = ingest("status", cwd=tmp_path, INGEST_DATABASE_URL=url.replace(":5432/", ":1/"))
    assert (run.returncode, status.returncode, demo.returncode) == (0, 0, 0), run.stderr + demo.stderr
    assert "http://reader:***@127.0.0.1" in run.stderr  # the quarantined page, logged
    unwrapped = "".join((status.stdout + demo.stdout).split())  # rich wraps long lines
    assert "lastrunsinpostgresql+psycopg://postgres:***@127.0.0.1:5432" in unwrapped
    assert "database:postgresql+psycopg://postgres:***@127.0.0.1:5432" in unwrapped
    assert unreachable.returncode == 2 and "Connection refused" in unreachable.stderr
    for result in (run, status, demo, unreachable):
        assert secret not in result.stdout + result.stderr


def test_page_text_is_printed_as_text_not_console_markup(tmp_path, capsys):
    from ingest.cli.jobs import _print_seed_author
    from ingest.config import load_settings
    from ingest.store import Author, Paper, make_engine, utcnow

    url = f"sqlite:///{tmp_path / 'x.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        author = conn.execute(Author.__table__.insert().values(
            source="scholarfeed", source_id="1", name="[bold red]Mallory[/] [/oops]", source_fields={"category": "[link]"},
            paper_count=1, h_index=1, citations=1, source_metrics={"novelty_pct": 1, "ai_score": 1}, profile_url="x",
            first_seen_at=utcnow())
        ).inserted_primary_key[0]
        paper = conn.execute(Paper.__table__.insert().values(title="t", title_key="t", first_seen_at=utcnow(),
                                                             authors=[], source_fields={})).inserted_primary_key[0]
        conn.execute(Authorship.__table__.insert().values(author_id=author, paper_id=paper, position=1))
    _print_seed_author(load_settings(None, database_url=url))
    assert "[bold red]Mallory[/] [/oops]: [link], h-index 1" in capsys.readouterr().out


def test_run_refuses_an_outdated_database_until_db_upgrade(site_url, tmp_path):
    from ingest.store import migrate

    database_url = f"sqlite:///{tmp_path / 'old.db'}"  # both dialects: tests/test_migrate.py
    migrate.upgrade(make_engine(database_url, check=False), "0001")
    env = {"INGEST_DATABASE_URL": database_url}
    refused = ingest("run", f"{site_url}/author/1", cwd=tmp_path, **env)
    assert refused.returncode == 2
    assert "revision 0001" in refused.stderr and "run `ingest db upgrade`" in refused.stderr

    upgraded = ingest("db", "upgrade", cwd=tmp_path, **env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"upgraded from revision 0001 to {migrate.head()}" in upgraded.stdout
    again = ingest("db", "upgrade", cwd=tmp_path, **env)
    assert f"already at revision {migrate.head()}" in again.stdout
    assert ingest("db", "current", cwd=tmp_path, **env).stdout.split() == [
        "database:", f"{migrate.head()};", "this", "ingest:", migrate.head()]


def test_run_with_a_shard_refreshes_that_shard_and_prints_it(prefect_api, site_url, tmp_path):
    env = {"INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    result = ingest("run", "--sitemap", f"{site_url}/sitemap.xml", "--shard", "2/3", cwd=tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert "(shard 2/3): ok" in result.stdout
    (latest,) = (json.loads(line) for line in ingest("status", "--json", cwd=tmp_path, **env).stdout.splitlines())
    assert (latest["shard"], latest["shards"]) == (2, 3)
    (row,) = [line for line in ingest("status", cwd=tmp_path, COLUMNS="200", **env).stdout.splitlines()
              if line.lstrip().startswith("1 ")]
    assert "2/3" in row.split()


def test_a_shard_that_is_not_one_exits_2(tmp_path):
    result = ingest("run", "--shard", "4/3", cwd=tmp_path)
    assert result.returncode == 2 and "4/3" in result.stderr


def test_run_with_a_group_refreshes_that_groups_profiles(prefect_api, site_url, tmp_path):
    config = tmp_path / "ingest.toml"
    config.write_text(f'database_url = "sqlite:///{tmp_path / "x.db"}"\n'
                      f'[[groups]]\nname = "seed"\nprofiles = {{ urls = ["{site_url}/author/1"] }}\n')
    result = ingest("run", "--group", "seed", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with make_engine(f"sqlite:///{tmp_path / 'x.db'}").connect() as conn:
        assert [row.source_id for row in conn.execute(select(Author.__table__))] == ["1"]
    unknown = ingest("run", "--group", "weekly", "--config", str(config), cwd=tmp_path)
    assert unknown.returncode == 2 and "no group 'weekly'; groups: seed" in unknown.stderr


# -- one page, and the sources -----------------------------------------------------------------------

def test_extract_prints_a_saved_pages_observation_as_json(tmp_path):
    result = ingest("extract", str(FIXTURES / "scholarfeed-author-1.html"), "--source", "scholarfeed", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    page = json.loads(result.stdout)
    assert list(page) == ["source", "source_id", "origin_url", "observed_at", "author", "papers", "first_position",
                          "next_url", "expected_papers"]
    assert (page["source"], page["source_id"], page["next_url"]) == ("scholarfeed", "1", None)
    assert page["origin_url"] == (FIXTURES / "scholarfeed-author-1.html").as_uri()
    assert page["author"] == {"name": "Sashank Reddi", "profile_url": "https://scholarfeed.org/author/1",
                              "metrics": {"h_index": 117, "citations": 6445, "paper_count": 11, "novelty_pct": 60,
                                          "ai_score": 45},
                              "category": "LG"}
    assert len(page["papers"]) == 11
    for paper, expected in zip(page["papers"], EXPECTED_PAPERS):
        category, published_on, has_code, title, authors, truncated, orgs, arxiv_id = expected
        assert {k: paper[k] for k in ("title", "authors", "authors_truncated", "year", "published_on", "arxiv_id",
                                      "doi", "category", "has_code", "orgs")} == {
            "title": title, "authors": authors, "authors_truncated": truncated, "year": published_on.year,
            "published_on": published_on.isoformat(), "arxiv_id": arxiv_id, "doi": None, "category": category,
            "has_code": has_code, "orgs": orgs}


def test_extract_fetches_a_url_and_finds_its_source(site, site_url, tmp_path):
    author = next(a for a in site.corpus.authors if site.corpus.page_count(a) >= 2)
    result = ingest("extract", f"{site_url}/author/{author}?page=2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    page = json.loads(result.stdout)
    listed = site.corpus.authors[author].papers
    assert (page["source"], page["source_id"], page["origin_url"]) == (
        "scholarfeed", str(author), f"{site_url}/author/{author}?page=2")
    assert page["first_position"] == site.corpus.page_size + 1
    assert [p["title"] for p in page["papers"]] == [
        site.corpus.paper_record(i).title for i in listed[site.corpus.page_size: 2 * site.corpus.page_size]]


def test_extract_says_why_a_page_does_not_load(tmp_path):
    saved = tmp_path / "blocked.html"
    saved.write_text("<html><body><h1>Our systems have detected unusual traffic</h1></body></html>")
    blocked = ingest("extract", str(saved), "--url", "https://scholarfeed.org/author/1", cwd=tmp_path)
    assert blocked.returncode == 1 and blocked.stdout == ""
    assert "blocked: the page is a CAPTCHA or block page" in blocked.stderr
    unknown = ingest("extract", str(saved), cwd=tmp_path)
    assert unknown.returncode == 2 and "pass --source NAME or --url ORIGIN_URL" in " ".join(unknown.stderr.split())
    missing = ingest("extract", str(tmp_path / "nothing.html"), "--source", "scholarfeed", cwd=tmp_path)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert "Traceback" not in blocked.stderr + unknown.stderr + missing.stderr


def test_run_refuses_a_url_no_source_claims_naming_it(tmp_path):
    result = ingest("run", "http://127.0.0.1:9/about/us", cwd=tmp_path)
    assert result.returncode == 2
    assert "http://127.0.0.1:9/about/us is not a profile of any source" in " ".join(result.stderr.split())
    unknown = ingest("run", "--source", "nosuch", "http://127.0.0.1:9/author/1", cwd=tmp_path)
    assert unknown.returncode == 2 and "no source named 'nosuch'" in unknown.stderr
    assert not (tmp_path / "data").exists()  # refused before touching any database


def test_a_sitemap_that_fails_exits_2_and_is_recorded_as_a_failed_run(prefect_api, site, site_url, tmp_path):
    from ingest.site.server import Response

    site.script("/sitemap.xml", Response(404))
    env = {"INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    result = ingest("run", "--sitemap", f"{site_url}/sitemap.xml", cwd=tmp_path, **env)
    assert result.returncode == 2 and "cannot plan the run: sitemap" in result.stderr and "HTTP 404" in result.stderr
    (run,) = (json.loads(line) for line in ingest("status", "--json", cwd=tmp_path, **env).stdout.splitlines())
    assert run["status"] == "failed" and "HTTP 404" in run["detail"]


def test_reparse_reloads_stored_pages_without_fetching(prefect_api, site, site_url, tmp_path):
    env = {"INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    assert ingest("run", f"{site_url}/author/1", cwd=tmp_path, **env).returncode == 0
    requests = len(site.requests)
    result = ingest("reparse", "--source", "scholarfeed", "--all", cwd=tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert "(reparse): ok" in result.stdout and len(site.requests) == requests
    assert ingest("reparse", "--source", "nosuch", cwd=tmp_path, **env).returncode == 2


def test_sources_lists_each_source_with_its_defaults(tmp_path):
    result = ingest("sources", cwd=tmp_path, COLUMNS="200")
    assert result.returncode == 0
    (row,) = [line for line in result.stdout.splitlines() if "scholarfeed/2" in line]
    assert "text/html" in row and "next_link" in row and "scholarfeed.org" in row
