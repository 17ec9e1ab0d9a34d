"""Settings: command line > environment (INGEST_*) > TOML file > defaults, and clear errors.

The autouse `_isolated_config` fixture (conftest) runs every test in its own empty working
directory with no INGEST_* variables set.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from ingest.config import (
    DEFAULT_CONFIG,
    ArchiveSettings,
    ConfigError,
    HostPolitenessSettings,
    HttpSettings,
    OpenalexSettings,
    ProfilesSettings,
    Settings,
    find_config,
    load_settings,
)
from tests.conftest import ROOT

EXAMPLE = ROOT / "config" / "example.toml"


def write(path: str | Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def config_error(config: str | Path | None = None, **overrides) -> str:
    with pytest.raises(ConfigError) as excinfo:
        load_settings(config, **overrides)
    return str(excinfo.value)


FILE = """
database_url = "sqlite:///from-file.db"
batch_size = 10
[http]
max_attempts = 3
backoff_base_s = 0.1
"""


# -- precedence ------------------------------------------------------------------------------------

def test_without_file_environment_or_options_the_defaults_apply():
    settings = load_settings()
    assert settings == Settings()
    assert settings.database_url == "sqlite:///data/ingest.db"
    assert settings.http.max_attempts == 4 and settings.batch_size == 50


def test_the_file_overrides_the_defaults():
    settings = load_settings(write("my.toml", FILE))
    assert settings.database_url == "sqlite:///from-file.db"
    assert (settings.batch_size, settings.http.max_attempts, settings.http.backoff_base_s) == (10, 3, 0.1)
    assert settings.concurrency == 4  # not in the file: default


def test_the_environment_overrides_the_file(monkeypatch):
    path = write("my.toml", FILE)
    monkeypatch.setenv("INGEST_DATABASE_URL", "sqlite:///from-env.db")
    monkeypatch.setenv("INGEST_HTTP__MAX_ATTEMPTS", "7")
    settings = load_settings(path)
    assert settings.database_url == "sqlite:///from-env.db"
    assert settings.http.max_attempts == 7


def test_the_environment_overrides_the_defaults(monkeypatch):
    monkeypatch.setenv("INGEST_DATABASE_URL", "sqlite:///from-env.db")
    monkeypatch.setenv("INGEST_HTTP__MAX_ATTEMPTS", "7")
    settings = load_settings()
    assert (settings.database_url, settings.http.max_attempts) == ("sqlite:///from-env.db", 7)


def test_the_command_line_overrides_environment_and_file(monkeypatch):
    path = write("my.toml", FILE)
    monkeypatch.setenv("INGEST_DATABASE_URL", "sqlite:///from-env.db")
    monkeypatch.setenv("INGEST_HTTP__MAX_ATTEMPTS", "7")
    settings = load_settings(path, database_url="sqlite:///from-cli.db", http={"max_attempts": 9})
    assert (settings.database_url, settings.http.max_attempts) == ("sqlite:///from-cli.db", 9)


def test_nested_keys_are_overridden_one_by_one_not_as_a_whole_table(monkeypatch):
    path = write("my.toml", FILE)  # http: max_attempts = 3, backoff_base_s = 0.1
    monkeypatch.setenv("INGEST_HTTP__MIN_INTERVAL_S", "0.5")
    settings = load_settings(path, http={"max_attempts": 9})
    assert settings.http.max_attempts == 9  # command line
    assert settings.http.min_interval_s == 0.5  # environment
    assert settings.http.backoff_base_s == 0.1  # file
    assert settings.http.read_timeout_s == 20.0  # default


def test_an_option_not_given_on_the_command_line_does_not_mask_the_other_sources(monkeypatch):
    monkeypatch.setenv("INGEST_DATABASE_URL", "sqlite:///from-env.db")
    settings = load_settings(write("my.toml", FILE), database_url=None, batch_size=None)
    assert (settings.database_url, settings.batch_size) == ("sqlite:///from-env.db", 10)


def test_a_list_can_come_from_the_environment_as_json(monkeypatch):
    monkeypatch.setenv("INGEST_ALLOWED_HOSTS", '["a.example", "b.example"]')
    assert load_settings().allowed_hosts == ["a.example", "b.example"]


def test_environment_variable_names_are_case_insensitive(monkeypatch):
    monkeypatch.setenv("ingest_batch_size", "12")
    assert load_settings().batch_size == 12


# -- finding the file ------------------------------------------------------------------------------

def three_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    explicit = write(tmp_path / "explicit.toml", 'database_url = "sqlite:///explicit.db"\n')
    from_env = write(tmp_path / "env" / "ingest.toml", 'database_url = "sqlite:///env.db"\n')
    default = write(DEFAULT_CONFIG, 'database_url = "sqlite:///default.db"\n')
    return explicit, from_env, default


def test_an_explicit_path_wins_over_ingest_config_and_the_default_file(tmp_path, monkeypatch):
    explicit, from_env, _ = three_files(tmp_path)
    monkeypatch.setenv("INGEST_CONFIG", str(from_env))
    assert find_config(explicit) == explicit
    assert load_settings(explicit).database_url == "sqlite:///explicit.db"


def test_ingest_config_wins_over_the_default_file(tmp_path, monkeypatch):
    _, from_env, _ = three_files(tmp_path)
    monkeypatch.setenv("INGEST_CONFIG", str(from_env))
    assert find_config(None) == from_env
    assert load_settings().database_url == "sqlite:///env.db"


def test_the_default_file_is_config_ingest_toml_in_the_working_directory(tmp_path):
    three_files(tmp_path)
    assert find_config(None) == Path("config/ingest.toml")
    assert load_settings().database_url == "sqlite:///default.db"


def test_the_default_file_is_looked_up_in_the_current_working_directory(tmp_path, monkeypatch):
    write(tmp_path / "project" / "config" / "ingest.toml", "batch_size = 7\n")
    assert load_settings().batch_size == 50
    monkeypatch.chdir(tmp_path / "project")
    assert load_settings().batch_size == 7


def test_a_relative_ingest_config_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    write(tmp_path / "conf" / "mine.toml", "batch_size = 8\n")
    monkeypatch.setenv("INGEST_CONFIG", "conf/mine.toml")
    assert load_settings().batch_size == 8


def test_an_empty_ingest_config_is_as_if_unset(monkeypatch):
    write(DEFAULT_CONFIG, "batch_size = 9\n")
    monkeypatch.setenv("INGEST_CONFIG", "")
    assert load_settings().batch_size == 9


def test_no_file_anywhere_means_no_file():
    assert find_config(None) is None


def test_ingest_config_is_not_mistaken_for_a_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("INGEST_CONFIG", str(write(tmp_path / "c.toml", "batch_size = 11\n")))
    assert load_settings().batch_size == 11


def test_the_example_file_lists_every_key_with_its_default():
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    top = set(Settings.model_fields) - {"profiles", "http", "archive"}
    assert set(example) == top | {"profiles", "http", "archive"}
    assert set(example["http"]) == set(HttpSettings.model_fields)
    assert set(example["archive"]) == set(ArchiveSettings.model_fields)
    # `source` and `registry` default to None, which TOML cannot spell: the file shows them commented out.
    assert set(example["profiles"]) == set(ProfilesSettings.model_fields) - {"source", "registry"}
    assert all(f"# {key} = " in EXAMPLE.read_text(encoding="utf-8") for key in ("source", "registry"))
    assert set(example["export"]) == {"format"}  # the rest default to None, shown commented out
    assert example["openalex"] == {} and all(f"# {key} = " in EXAMPLE.read_text(encoding="utf-8")
                                             for key in OpenalexSettings.model_fields)
    assert all(f"# {key} = " in EXAMPLE.read_text(encoding="utf-8") for key in ("directory", "database_url", "schedule"))
    settings, defaults = load_settings(EXAMPLE), Settings()
    assert settings.model_dump(exclude={"profiles"}) == defaults.model_dump(exclude={"profiles"})


# -- invalid configuration -------------------------------------------------------------------------

def test_a_value_of_the_wrong_type_names_the_file_the_key_and_the_reason():
    path = write("bad.toml", 'batch_size = "many"\n')
    message = config_error(path)
    assert str(path) in message and "batch_size" in message and "valid integer" in message


def test_a_nested_value_of_the_wrong_type_names_its_dotted_key():
    path = write("bad.toml", '[http]\nmax_attempts = "often"\n')
    message = config_error(path)
    assert str(path) in message and "http.max_attempts" in message and "valid integer" in message


def test_a_value_out_of_range_names_the_key_and_the_bound():
    path = write("bad.toml", "[http]\nmax_attempts = 0\n")
    message = config_error(path)
    assert str(path) in message and "http.max_attempts" in message and "greater than or equal to 1" in message


@pytest.mark.parametrize("text, key", [
    ("batchsize = 10\n", "batchsize"),
    ("[http]\nmax_attempt = 3\n", "http.max_attempt"),
    ("[profiles]\nurl = []\n", "profiles.url"),
    ("[database]\nurl = 'sqlite://'\n", "database"),
])
def test_an_unknown_key_names_the_file_and_the_key(text, key):
    path = write("bad.toml", text)
    message = config_error(path)
    assert str(path) in message and f"{key}:" in message and "not permitted" in message


def test_every_problem_in_the_file_is_reported_at_once():
    path = write("bad.toml", 'batch_size = "many"\nconcurrency = 0\n[http]\nmax_attempts = 0\n')
    message = config_error(path)
    assert all(key in message for key in ("batch_size", "concurrency", "http.max_attempts"))


def test_a_file_that_is_not_toml_names_the_file_and_the_reason():
    path = write("bad.toml", "batch_size = 10\n[http\nmax_attempts = 3\n")
    message = config_error(path)
    assert str(path) in message and "invalid TOML" in message and "line 2" in message


def test_a_file_that_is_not_utf8_is_invalid_toml():
    path = Path("latin1.toml")
    path.write_bytes('[http]\nuser_agent = "café"\n'.encode("latin-1"))
    message = config_error(path)
    assert str(path) in message and "invalid TOML" in message


def test_a_missing_explicit_file_is_an_error_naming_it():
    message = config_error("nowhere/ingest.toml")
    assert "nowhere/ingest.toml" in message and "not found" in message


def test_a_missing_ingest_config_file_is_an_error_naming_it(monkeypatch):
    monkeypatch.setenv("INGEST_CONFIG", "missing.toml")
    message = config_error()
    assert "missing.toml" in message and "not found" in message


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/author/1", "127.0.0.1:8740/author/1", "/author/1", ""])
def test_a_profile_url_that_is_not_http_names_the_file_the_key_and_the_url(url):
    path = write("bad.toml", f'[profiles]\nurls = ["http://127.0.0.1:8740/author/1", "{url}"]\n')
    message = config_error(path)
    assert str(path) in message and "profiles.urls" in message and "not an http(s) URL" in message
    assert repr(url) in message


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/sitemap.xml", "sitemap.xml"])
def test_a_sitemap_url_that_is_not_http_names_the_file_and_the_key(url):
    path = write("bad.toml", f'[profiles]\nsitemap = "{url}"\n')
    message = config_error(path)
    assert str(path) in message and "profiles.sitemap" in message


def test_https_profile_urls_are_accepted():
    path = write("ok.toml", '[profiles]\nurls = ["https://scholarfeed.org/author/1"]\n')
    assert load_settings(path).profiles.urls == ["https://scholarfeed.org/author/1"]


def test_a_command_line_url_that_is_not_http_is_an_error():
    message = config_error(profiles={"urls": ["file:///etc/passwd"]})
    assert "profiles.urls" in message and "not an http(s) URL" in message


def test_an_invalid_environment_value_names_the_key_and_the_reason(monkeypatch):
    monkeypatch.setenv("INGEST_HTTP__MAX_ATTEMPTS", "lots")
    message = config_error()
    assert "http.max_attempts" in message and "valid integer" in message


def test_an_invalid_environment_value_names_the_variable_as_written_whatever_its_case(monkeypatch):
    monkeypatch.setenv("ingest_http__max_attempts", "lots")
    message = config_error(write("fine.toml", "batch_size = 10\n"))
    assert "environment variable ingest_http__max_attempts: http.max_attempts" in message


def test_an_invalid_environment_value_is_not_blamed_on_a_valid_file(monkeypatch):
    path = write("fine.toml", "batch_size = 10\n")
    monkeypatch.setenv("INGEST_HTTP__MAX_ATTEMPTS", "lots")
    message = config_error(path)
    assert "http.max_attempts" in message and str(path) not in message


# -- politeness per host ---------------------------------------------------------------------------

HOSTS = """
[http]
jitter_s = 0.5
[http.hosts."scholar.google.com"]
min_interval_s = 8.0
jitter_s = 4.0
[http.hosts."*.arXiv.org"]
concurrency = 1
"""


def test_hosts_come_from_the_file_with_unset_fields_left_to_inherit():
    http = load_settings(write("hosts.toml", HOSTS)).http
    assert http.jitter_s == 0.5
    assert http.hosts == {
        "scholar.google.com": HostPolitenessSettings(min_interval_s=8.0, jitter_s=4.0),
        "*.arxiv.org": HostPolitenessSettings(concurrency=1),  # lower-cased
    }
    assert http.hosts["*.arxiv.org"].min_interval_s is None


def test_a_host_with_a_dotted_name_can_be_set_key_by_key_from_the_environment(monkeypatch):
    # Names with dots cannot be `export`ed by a POSIX shell, but `env NAME=value command` and
    # process managers pass them; the JSON form below works everywhere.
    monkeypatch.setenv("INGEST_HTTP__HOSTS__scholar.google.com__CONCURRENCY", "2")
    monkeypatch.setenv("INGEST_HTTP__HOSTS__export.arxiv.org__MIN_INTERVAL_S", "3")
    hosts = load_settings(write("hosts.toml", HOSTS)).http.hosts
    assert hosts["scholar.google.com"] == HostPolitenessSettings(min_interval_s=8.0, concurrency=2, jitter_s=4.0)
    assert hosts["export.arxiv.org"] == HostPolitenessSettings(min_interval_s=3.0)
    assert hosts["*.arxiv.org"] == HostPolitenessSettings(concurrency=1)


def test_hosts_can_come_from_the_environment_as_json(monkeypatch):
    monkeypatch.setenv("INGEST_HTTP__HOSTS", '{"Scholar.Google.com": {"min_interval_s": 8, "jitter_s": 4}}')
    assert load_settings().http.hosts == {"scholar.google.com": HostPolitenessSettings(min_interval_s=8, jitter_s=4)}


@pytest.mark.parametrize("key", ["https://scholar.google.com", "scholar.google.com:443", "a.example/path", "a b", ""])
def test_a_hosts_key_that_is_not_a_host_name_or_pattern_is_named(key):
    message = config_error(write("bad.toml", f'[http.hosts."{key}"]\nconcurrency = 1\n'))
    assert "http.hosts" in message and "not host names or patterns" in message and repr(key) in message


@pytest.mark.parametrize("key", ["127.0.0.1", "::1", "*", "scholar.google.*", "host-[0-9].example", "a_b.example"])
def test_ip_addresses_and_fnmatch_patterns_are_hosts_keys(key):
    assert key in load_settings(write("ok.toml", f'[http.hosts."{key}"]\nconcurrency = 1\n')).http.hosts


def test_a_host_given_twice_in_different_cases_is_an_error():
    text = '[http.hosts."A.example"]\nconcurrency = 1\n[http.hosts."a.example"]\nconcurrency = 2\n'
    assert "hosts repeat in different cases: ['a.example']" in config_error(write("bad.toml", text))


@pytest.mark.parametrize("entry, names", [
    ("concurrency = 0", ["http.hosts.a.example.concurrency", "greater than or equal to 1"]),
    ("min_interval_s = -1", ["http.hosts.a.example.min_interval_s", "greater than or equal to 0"]),
    ("jitter_s = -1", ["http.hosts.a.example.jitter_s", "greater than or equal to 0"]),
    ("interval_s = 1", ["http.hosts.a.example.interval_s", "not permitted"]),
])
def test_an_invalid_host_entry_names_its_dotted_key_and_the_reason(entry, names):
    path = write("bad.toml", f'[http.hosts."a.example"]\n{entry}\n')
    message = config_error(path)
    assert str(path) in message and all(name in message for name in names), message


def test_an_invalid_host_entry_from_the_environment_names_the_variable_as_written(monkeypatch):
    monkeypatch.setenv("INGEST_HTTP__HOSTS__a.example__CONCURRENCY", "0")
    message = config_error(write("fine.toml", HOSTS))
    assert "environment variable INGEST_HTTP__HOSTS__a.example__CONCURRENCY" in message and "fine.toml" not in message


# -- source groups ---------------------------------------------------------------------------------

def test_groups_carry_their_own_profiles_schedule_and_shards():
    path = write("groups.toml", '[[groups]]\nname = "daily"\nshards = 2\n'
                 'schedule = { cron = "0 6 * * *", timezone = "Europe/Berlin" }\n'
                 'profiles = { urls = ["https://a.example/author/1"] }\n')
    (group,) = load_settings(path).groups
    assert (group.name, group.shards, group.schedule.cron, group.schedule.timezone, group.profiles.urls) == (
        "daily", 2, "0 6 * * *", "Europe/Berlin", ["https://a.example/author/1"])
    assert load_settings(path).group("daily") is not None


@pytest.mark.parametrize(("group", "names"), [
    ('name = "a"\nschedule = { cron = "0 6 * *" }\nprofiles = { sitemap = "https://a.example/s.xml" }',
     ["groups.0.schedule.cron", "five fields"]),
    ('name = "a"\nschedule = { interval_s = 60, timezone = "Mars/Olympus" }\nprofiles = { sitemap = "https://a.example/s.xml" }',
     ["groups.0.schedule.timezone", "unknown time zone"]),
    ('name = "a"\nschedule = { interval_s = 60, cron = "0 6 * * *" }\nprofiles = { sitemap = "https://a.example/s.xml" }',
     ["groups.0.schedule", "exactly one of cron and interval_s"]),
    ('name = "A b"\nprofiles = { sitemap = "https://a.example/s.xml" }', ["groups.0.name"]),
    ('name = "a"\nprofiles = {}', ["groups.0", "no profile urls and no sitemap"]),
])
def test_an_invalid_group_names_its_key_and_the_reason(group, names):
    message = config_error(write("bad.toml", f"[[groups]]\n{group}\n"))
    assert all(name in message for name in names), message


def test_group_names_are_unique():
    group = '[[groups]]\nname = "a"\nprofiles = { sitemap = "https://a.example/s.xml" }\n'
    assert "group names repeat: ['a']" in config_error(write("bad.toml", group * 2))


def test_an_unknown_group_is_an_error_naming_the_groups_there_are():
    path = write("groups.toml", '[[groups]]\nname = "daily"\nprofiles = { sitemap = "https://a.example/s.xml" }\n')
    with pytest.raises(ConfigError, match="no group 'weekly'; groups: daily"):
        load_settings(path).group("weekly")
