"""What a deployment carries to the process that runs it (`ingest.deployed`): resolved settings, absolute paths,
secrets only as references; and what a deployment's run refuses to write to."""

from __future__ import annotations

import pytest

from ingest import deployed
from ingest.config import ConfigError, Settings

PG = "postgresql+psycopg://ingest@db.example:5432/ingest"
WITH_PASSWORD = "postgresql+psycopg://ingest:s3cret@db.example:5432/ingest"


def test_relative_paths_and_sqlite_files_are_carried_absolute_against_the_deploying_directory(tmp_path):
    settings = Settings(database_url="sqlite:///data/ingest.db", batch_size=7, warc={"directory": "w"},
                        profiles={"urls": ["http://127.0.0.1:1/author/1"]})
    values, secrets = deployed.carried(settings, tmp_path)
    assert values["database_url"] == f"sqlite:///{tmp_path / 'data' / 'ingest.db'}"
    assert (values["warc"]["directory"], values["data_dir"]) == (str(tmp_path / "w"), str(tmp_path / "data"))
    assert values["batch_size"] == 7 and "profiles" not in values and "groups" not in values
    assert secrets == {}


def test_a_url_without_a_password_travels_as_it_is_and_one_with_a_password_as_a_reference(tmp_path):
    assert deployed.carried(Settings(database_url=PG), tmp_path)[0]["database_url"] == PG
    values, secrets = deployed.carried(Settings(database_url=WITH_PASSWORD, openalex={"api_key": "k"}), tmp_path)
    assert (values["database_url"], values["openalex"]["api_key"]) == (
        "env:INGEST_DATABASE_URL", "env:INGEST_OPENALEX__API_KEY")
    assert secrets == {"INGEST_DATABASE_URL": WITH_PASSWORD, "INGEST_OPENALEX__API_KEY": "k"}
    assert "s3cret" not in str(values)


def test_the_database_may_be_carried_as_a_secret_block_instead(tmp_path):
    values, secrets = deployed.carried(Settings(database_url=WITH_PASSWORD), tmp_path, database="secret:db")
    assert (values["database_url"], secrets) == ("secret:db", {})
    assert deployed.where_it_writes(values) == "secret:db"
    assert deployed.resolve(values, {"db": WITH_PASSWORD}.__getitem__).database_url == WITH_PASSWORD


def test_a_run_gets_back_the_deploying_settings_whatever_its_own_environment_says(tmp_path, monkeypatch):
    settings = Settings(database_url=f"sqlite:///{tmp_path}/x.db", batch_size=7, http={"max_attempts": 2})
    values, _ = deployed.carried(settings, tmp_path)
    monkeypatch.setenv("INGEST_DATABASE_URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv("INGEST_BATCH_SIZE", "99")
    run = deployed.resolve(values, {}.__getitem__, max_pages_per_profile=3)
    paths = {"profiles", "groups", "max_pages_per_profile", "data_dir", "warc"}
    assert run.model_dump(exclude=paths) == settings.model_dump(exclude=paths)
    assert (run.data_dir, run.warc.directory) == (str(tmp_path / "data"), str(tmp_path / "data" / "warc"))
    assert run.max_pages_per_profile == 3  # what the run's own parameters say still wins


def test_a_referenced_variable_the_worker_lacks_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("INGEST_DATABASE_URL", raising=False)
    with pytest.raises(ConfigError, match=r"database_url from \$INGEST_DATABASE_URL, which this process's "
                                          r"environment does not set"):
        deployed.resolve({"database_url": "env:INGEST_DATABASE_URL"}, {}.__getitem__)
    monkeypatch.setenv("INGEST_DATABASE_URL", PG)
    assert deployed.resolve({"database_url": "env:INGEST_DATABASE_URL"}, {}.__getitem__).database_url == PG


@pytest.mark.parametrize("url", ["sqlite:///data/ingest.db", "sqlite://", "sqlite:///:memory:"])
def test_a_deployments_run_refuses_a_database_that_dies_with_its_directory(url):
    with pytest.raises(ConfigError, match="refusing to write to sqlite"):
        deployed.refuse_lost_database(url)


@pytest.mark.parametrize("url", ["sqlite:////srv/ingest.db", PG])
def test_a_database_that_outlives_the_run_is_written(url):
    deployed.refuse_lost_database(url)
