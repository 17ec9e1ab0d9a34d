"""Schema migrations on SQLite and PostgreSQL: empty databases, old revisions, data kept across upgrades."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, Table, create_engine, insert, inspect, select, text
from sqlmodel import SQLModel

from ingest.config import load_settings
from ingest.match import head
from ingest.pipeline.refresh import refresh
from ingest.records import PaperRecord
from ingest.store import archive, make_engine, migrate
from tests.conftest import FIXTURES

OLDER = [script.revision for script in migrate._scripts().walk_revisions() if script.revision != migrate.head()]
PREVIOUS = migrate._scripts().get_revision(migrate.head()).down_revision


def differences(engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)


def test_an_empty_database_is_initialised_to_a_schema_equal_to_the_models(database_url):
    engine = make_engine(database_url)
    with engine.connect() as conn:
        assert migrate.current(conn) == migrate.head()
    assert differences(engine) == []


def test_the_models_and_the_newest_revision_agree_after_upgrading_step_by_step(database_url):
    engine = make_engine(database_url, check=False)
    assert migrate.upgrade(engine, PREVIOUS) == (None, PREVIOUS)
    assert differences(engine) != []  # the check below can see a difference
    assert migrate.upgrade(engine) == (PREVIOUS, migrate.head())
    assert differences(engine) == []


def test_a_database_at_an_older_revision_is_refused_naming_the_command(database_url):
    migrate.upgrade(make_engine(database_url, check=False), PREVIOUS)
    with pytest.raises(migrate.SchemaOutdated, match=f"revision {PREVIOUS}.*run `ingest db upgrade`"):
        make_engine(database_url)


def test_a_database_newer_than_the_code_is_refused(database_url):
    engine = make_engine(database_url)
    with engine.begin() as conn:
        MigrationContext.configure(conn).stamp(migrate._scripts(), "head")
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(migrate.SchemaOutdated, match="9999, which this version of ingest does not know"):
        make_engine(database_url)


def test_a_database_made_before_migrations_counts_as_the_first_revision(database_url):
    engine = make_engine(database_url, check=False)
    migrate.upgrade(engine, migrate.BASELINE)
    with engine.begin() as conn:  # what `create_all` left before Alembic: the tables, no version
        conn.exec_driver_sql("DROP TABLE alembic_version")
    with engine.connect() as conn:
        assert migrate.current(conn) == migrate.BASELINE
    with pytest.raises(migrate.SchemaOutdated, match="ingest db upgrade"):
        make_engine(database_url)
    assert migrate.upgrade(engine) == (migrate.BASELINE, migrate.head())
    assert differences(engine) == []


FIXTURE_0003 = FIXTURES / "ingest-0003.db"  # filled by real refreshes at revision 0003: see tests/fixtures/README.md
RECORDED_AT = "http://127.0.0.1:48731"  # the bundled site it was refreshed from


def fixture_0003(tmp_path) -> Engine:
    """A copy of the revision-0003 database (opening the file itself would rewrite its header)."""
    path = tmp_path / "ingest-0003.db"
    shutil.copyfile(FIXTURE_0003, path)
    return create_engine(f"sqlite:///{path}")


def table_rows(engine, name: str) -> list[dict]:
    """The table's rows by primary key, timestamps as naive UTC (as SQLite holds them, PostgreSQL with a zone)."""
    table = Table(name, MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        return [{key: naive_utc(value) for key, value in row._mapping.items()}
                for row in conn.execute(select(table).order_by(*table.primary_key))]


def naive_utc(value):
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def copy_rows(source, target, base: str) -> dict[str, list[dict]]:
    """Copy every row of `source` into `target` (both at older revisions) in the columns `target` has, moving
    URLs from the site the rows were recorded from to `base`, as a restore onto another host would."""
    old, new = MetaData(), MetaData()
    old.reflect(source)
    new.reflect(target)
    copied = {}
    with source.connect() as src, target.begin() as dst:
        for table in old.sorted_tables:
            if table.name not in new.tables or table.name == "alembic_version":
                continue
            columns = [c.name for c in new.tables[table.name].columns if c.name in table.c]
            rows = [{name: value.replace(RECORDED_AT, base) if isinstance(value, str) else value
                     for name, value in row._mapping.items()}
                    for row in src.execute(select(*(table.c[c] for c in columns)).order_by(*table.primary_key))]
            if rows:
                dst.execute(insert(new.tables[table.name]), rows)
                if dst.dialect.name == "postgresql" and "id" in columns:  # as a restore does: ids go on after
                    dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                     f"(SELECT max(id) FROM {table.name}))"))
            copied[table.name] = rows
    return copied


def scholar_feed_values_moved(name: str, old: dict, new: dict) -> None:
    """Revision 0004 moved Scholar Feed's own values into the records' JSON fields: each lands there."""
    if name == "author":
        assert new["source_metrics"] == {"novelty_pct": old["novelty_pct"], "ai_score": old["ai_score"]}
        assert new["source_fields"] == {"category": old["category"]}
    elif name == "author_snapshot":
        assert new["source_metrics"] == {"novelty_pct": old["novelty_pct"], "ai_score": old["ai_score"]}
    elif name == "paper":
        assert new["year"] == old["published_on"].year
        assert new["source_fields"] == {"scholarfeed": {"category": old["category"], "has_code": old["has_code"],
                                                        "code_url": old["code_url"], "orgs": old["orgs"]}}
    elif name == "page":
        assert (new["source"], new["parser_version"]) == ("scholarfeed", "scholarfeed/2")
        assert old["parser_version"] == "profile_site/2"


# Its rows fit the schemas up to its own revision; later revisions are reached by upgrading it.
@pytest.mark.parametrize("start", [revision for revision in OLDER if revision <= "0003"])
async def test_a_database_filled_at_an_older_revision_upgrades_with_nothing_lost(site, site_url, database_url,
                                                                                 tmp_path, start):
    target = make_engine(database_url, check=False)
    migrate.upgrade(target, start)
    copied = copy_rows(fixture_0003(tmp_path), target, site_url)
    assert all(copied[name] for name in ("author", "paper", "authorship", "author_snapshot", "page", "ingest_run",
                                         "quarantine"))
    migrate.upgrade(target)

    for name, old_rows in copied.items():
        table = SQLModel.metadata.tables[name]
        kept = table_rows(target, name)
        assert len(kept) == len(old_rows)
        for old, new in zip(old_rows, kept):
            assert {k: new[k] for k in old if k in new and k != "parser_version"} == {
                k: v for k, v in old.items() if k in new and k != "parser_version"}
            scholar_feed_values_moved(name, old, new)
        # Columns added since `start` hold their defaults, e.g. old runs were shard 1 of 1.
        for column in table.columns:
            if old_rows and column.name not in old_rows[0] and column.server_default is not None \
                    and column.name != "title_head":  # computed (below)
                assert {str(row[column.name]) for row in kept} == {column.server_default.arg}

    # Every stored paper is linked to its source record (Scholar Feed knows papers by their arXiv id), and has
    # the title head fuzzy matching looks it up by.
    papers = {row["id"]: row for row in table_rows(target, "paper")}
    assert all(row["title_head"] == head(PaperRecord(title=row["title"])) != "" for row in papers.values())
    links = table_rows(target, "paper_source")
    assert sorted(link["paper_id"] for link in links) == sorted(papers)
    assert all((link["source"], link["source_record_id"], link["first_seen_at"]) == (
        "scholarfeed", papers[link["paper_id"]]["arxiv_id"], papers[link["paper_id"]]["first_seen_at"])
        for link in links)

    # A quarantined body moved, whole, into the page archive.
    (old_entry,), (entry,) = copied["quarantine"], table_rows(target, "quarantine")
    with target.connect() as conn:
        assert archive.bodies(conn, [entry["body_sha256"]]) == {entry["body_sha256"]: old_entry["body"].encode()}

    # The upgraded database works: its page states make every page of the next run unchanged.
    site.corpus.bump_citations(1002)  # as the site stood when the database was filled
    settings = load_settings(None, database_url=database_url, profiles={"sitemap": f"{site_url}/sitemap.xml"})
    summary = await refresh(settings, make_engine(database_url))
    assert summary.pages_fetched == summary.pages_unchanged == len(copied["page"])


def test_downgrading_from_the_sources_seam_gives_back_the_older_rows(database_url, tmp_path):
    target = make_engine(database_url, check=False)
    migrate.upgrade(target, "0003")
    copied = copy_rows(fixture_0003(tmp_path), target, RECORDED_AT)
    migrate.upgrade(target)
    migrate.downgrade(target, "0003")
    for name, old_rows in copied.items():
        assert table_rows(target, name) == old_rows, name


def test_downgrading_to_the_first_revision_and_back_keeps_the_schema(database_url):
    engine = make_engine(database_url)
    assert migrate.downgrade(engine, migrate.BASELINE) == (migrate.head(), migrate.BASELINE)
    assert "shard" not in {c["name"] for c in inspect(engine).get_columns("ingest_run")}
    assert not inspect(engine).has_table("host_pace")
    migrate.upgrade(engine)
    assert differences(engine) == []


def test_engines_initialising_one_empty_database_at_once_all_succeed(database_url):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        engines = list(pool.map(lambda _: make_engine(database_url), range(4)))
    with engines[0].connect() as conn:
        assert migrate.current(conn) == migrate.head()


def test_upgrading_buries_the_papers_the_feed_recorded_as_merged(database_url):
    engine = make_engine(database_url, check=False)
    migrate.upgrade(engine, "0007_change_feed")  # the revision before paper_merge
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    meta = MetaData()
    paper, change = Table("paper", meta, autoload_with=engine), Table("change", meta, autoload_with=engine)
    with engine.begin() as conn:
        conn.execute(insert(paper), [{"id": 5, "title": "Five", "title_key": "five|", "authors": [],
                                      "authors_truncated": False, "source_fields": {}, "first_seen_at": at}])
        conn.execute(insert(change), [  # 3 merged into 4, then 4 into 5
            {"record": "paper", "record_id": 3, "op": "merge", "merged_into": 4, "changed_at": at},
            {"record": "paper", "record_id": 4, "op": "merge", "merged_into": 5, "changed_at": at},
            {"record": "author", "record_id": 9, "op": "merge", "merged_into": 8, "changed_at": at}])
    migrate.upgrade(engine)
    assert {(r["id"], r["merged_into"]) for r in table_rows(engine, "paper_merge")} == {(3, 5), (4, 5)}
