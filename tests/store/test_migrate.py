"""Schema migrations on SQLite and PostgreSQL: empty databases, old revisions, data kept across upgrades."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, insert, inspect, select, text
from sqlmodel import SQLModel

from ingest.store import migrate
from ingest.config import load_settings
from ingest.store import make_engine
from ingest.pipeline.refresh import refresh

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


def copy_rows(source, target) -> dict[str, list[dict]]:
    """Copy every row of `source` into `target` (at an older revision) in the columns `target` has."""
    old = MetaData()
    old.reflect(target)
    copied = {}
    with source.connect() as src, target.begin() as dst:
        for table in SQLModel.metadata.sorted_tables:
            if table.name not in old.tables:
                continue
            columns = [c.name for c in old.tables[table.name].columns]
            rows = [dict(row._mapping) for row in src.execute(select(*(table.c[c] for c in columns)))]
            if rows:
                dst.execute(insert(old.tables[table.name]), rows)
                if dst.dialect.name == "postgresql" and "id" in columns:  # as a restore does: ids go on after
                    dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                     f"(SELECT max(id) FROM {table.name}))"))
            copied[table.name] = rows
    return copied


@pytest.mark.parametrize("start", OLDER)
async def test_upgrading_from_an_older_revision_keeps_every_row(site, site_url, database_url, tmp_path, start):
    settings = load_settings(None, database_url=f"sqlite:///{tmp_path / 'source.db'}",
                             profiles={"sitemap": f"{site_url}/sitemap.xml"})
    source = make_engine(settings.database_url)
    await refresh(settings, source)
    site.corpus.bump_citations(1002)  # a second run: snapshots, updates, two ingest_run rows
    await refresh(settings, source)

    target = make_engine(database_url, check=False)
    migrate.upgrade(target, start)
    copied = copy_rows(source, target)
    assert all(copied[name] for name in ("author", "paper", "authorship", "author_snapshot", "page", "ingest_run"))
    migrate.upgrade(target)

    with target.connect() as conn:
        for name, old_rows in copied.items():
            table = SQLModel.metadata.tables[name]
            kept = [dict(row._mapping) for row in conn.execute(select(table).order_by(*table.primary_key))]
            assert [{k: row[k] for k in old} for row, old in zip(kept, old_rows)] == old_rows
            assert len(kept) == len(old_rows)
            # Columns added since `start` hold their defaults, e.g. old runs were shard 1 of 1.
            for column in table.columns:
                if old_rows and column.name not in old_rows[0]:
                    default = column.server_default.arg if column.server_default is not None else None
                    assert {str(row[column.name]) if default else row[column.name] for row in kept} == {default}

    # The upgraded database works: its page states make every page of the next run unchanged.
    summary = await refresh(settings.model_copy(update={"database_url": database_url}), make_engine(database_url))
    assert summary.pages_fetched == summary.pages_unchanged > 0


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
