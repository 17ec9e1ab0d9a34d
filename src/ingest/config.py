"""Configuration: command line > environment (INGEST_*) > TOML file > defaults.

The file is `--config PATH`, else `$INGEST_CONFIG`, else `./config/ingest.toml`, else none.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ingest.dedupe import DEFAULT_PRECEDENCE, RANKED_FIELDS
from ingest.http.addresses import parse_networks

DEFAULT_CONFIG = Path("config") / "ingest.toml"
# (backend, DB-API driver) pairs ingest runs on: its statements are synchronous, its bulk paths use these drivers.
DATABASE_DRIVERS = frozenset({("sqlite", "pysqlite"), ("postgresql", "psycopg")})


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file, the key and the reason."""


# A host name or an fnmatch pattern of one: no scheme, port or path, which a host never carries.
HOST_PATTERN = re.compile(r"[a-z0-9.*?\[\]!_-]+")


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class HostPolitenessSettings(BaseModel):
    """One host's (or host pattern's) politeness; a field left out keeps what a source default or [http] gives."""

    model_config = ConfigDict(extra="forbid")

    min_interval_s: float | None = Field(None, ge=0, description="Minimum time between two request starts.")
    concurrency: int | None = Field(None, ge=1, description="Requests in flight at once.")
    jitter_s: float | None = Field(None, ge=0, description="A random extra wait in [0, jitter_s) per interval.")


class HttpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_agent: str = "ingest/0.1 (researcher-profile ETL)"
    connect_timeout_s: float = Field(5.0, gt=0)
    read_timeout_s: float = Field(20.0, gt=0, description="Longest wait for the next bytes of a response.")
    response_timeout_s: float = Field(120.0, gt=0, description="Longest time for a whole response, head to last byte.")
    max_attempts: int = Field(4, ge=1, le=20)
    backoff_base_s: float = Field(0.5, ge=0)
    backoff_max_s: float = Field(30.0, ge=0)
    retry_after_cap_s: float = Field(120.0, ge=0)
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0)
    per_host_concurrency: int = Field(16, ge=1)
    min_interval_s: float = Field(0.0, ge=0, description="Minimum time between two request starts to one host.")
    jitter_s: float = Field(0.0, ge=0, description="A random extra wait in [0, jitter_s) added to each interval, "
                            "so request starts do not tick like a metronome.")
    min_interval_scope: Literal["database", "process"] = Field(
        "database", description="database: each host's interval holds across every process using the same "
        "database (workers, shards, overlapping runs); process: within each process alone."
    )
    max_connections: int = Field(32, ge=1)
    max_redirects: int = Field(5, ge=0)
    allowed_networks: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description="Non-public networks (CIDR) that may be fetched; public addresses always may. "
        "Loopback is here for the bundled site; [] refuses it too.",
    )
    obey_robots_txt: bool = Field(True, description="Fetch each site's robots.txt and honour it.")
    max_crawl_delay_s: float = Field(30.0, ge=0, description="A longer robots.txt Crawl-delay is honoured as this.")
    hosts: dict[str, HostPolitenessSettings] = Field(
        default_factory=dict, description="Politeness per host name or fnmatch pattern (an exact name wins over a "
        "pattern), overriding the settings above and a source's defaults field by field."
    )

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        parse_networks(value)  # its ValueError names the bad entry
        return value

    @field_validator("hosts")
    @classmethod
    def _host_names(cls, hosts: dict[str, HostPolitenessSettings]) -> dict[str, HostPolitenessSettings]:
        bad = [key for key in hosts if not (HOST_PATTERN.fullmatch(key.lower()) or _is_ip_address(key))]
        if bad:
            raise ValueError(f"not host names or patterns: {', '.join(map(repr, bad))} "
                             "(want e.g. 'scholar.google.com' or '*.arxiv.org': no scheme, port or path)")
        names = [key.lower() for key in hosts]  # host names are case-insensitive; requests are matched lower-cased
        if len(set(names)) != len(names):
            raise ValueError(f"hosts repeat in different cases: {sorted({n for n in names if names.count(n) > 1})}")
        return dict(zip(names, hosts.values()))


class ProfilesSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    urls: list[str] = Field(default_factory=list, description="First pages of the profiles to refresh.")
    sitemap: str | None = Field(None, description="A sitemap listing profile first pages.")
    source: str | None = Field(None, description="The source these profiles come from (see `ingest sources`); "
                               "unset, each URL's source is the one that claims it.")
    registry: str | None = Field(None, description="Refresh this group of the database's profile registry "
                                 "(`ingest profiles`) too.")

    @field_validator("urls", "sitemap")
    @classmethod
    def _absolute(cls, value: list[str] | str | None) -> list[str] | str | None:
        for url in [value] if isinstance(value, str) else value or []:
            check_http_url(url)
        return value


def check_http_url(url: str) -> str:
    """`url` if it is an absolute http(s) URL with a host; ValueError saying what is wrong otherwise."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parses the port: "http://h:x/" raises here
    except ValueError as exc:
        raise ValueError(f"not a URL: {url!r} ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host: {url!r}")
    return url


class ArchiveSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Keep every fetched body in the database (page_body, page_capture), "
                          "for `ingest reparse`. Quarantined bodies are kept either way.")
    level: int = Field(3, ge=1, le=22, description="zstd compression level of stored bodies.")


class GscholarSettings(BaseModel):
    """Google Scholar profiles: where and how their first page is fetched (a profile is its `user` id whatever
    host or language a URL names)."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("scholar.google.com", pattern=r"^scholar\.google\.[a-z.]+$",
                      description="The Scholar host profiles on scholar.google.* are fetched from.")
    hl: str = Field("en", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z]{2,4})?$", description="The UI language asked for.")
    pagesize: int = Field(100, ge=1, le=100, description="Rows on the first page (100, Scholar's largest, is "
                          "all a robots.txt-abiding client sees).")


class OpenalexSettings(BaseModel):
    """OpenAlex's API: who we are (its polite pool) and, where the user has one, the API key. Both are sent as
    query parameters of each request, never written into stored URLs; the key is masked in logs."""

    model_config = ConfigDict(extra="forbid")

    mailto: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+$", description="A contact address: OpenAlex "
                               "serves clients that give one from its faster, more reliable polite pool.")
    api_key: SecretStr | None = Field(None, description="An OpenAlex API key (better set by INGEST_OPENALEX__API_KEY "
                                      "than written in a file).")


class ArxivSettings(BaseModel):
    """Completing papers from arXiv's API: those with an arXiv id whose author list is cut short, or that lack an
    abstract or a date, are asked for in `id_list` batches after each refresh (and by `ingest enrich`)."""

    model_config = ConfigDict(extra="forbid")

    enrich: bool = Field(False, description="Complete papers from arXiv at the end of every refresh.")
    api_url: str = Field("https://export.arxiv.org/api/query", description="arXiv's query API (or a mirror).")
    batch_size: int = Field(100, ge=1, le=100, description="Ids a request asks for (arXiv: at most 100).")
    max_batches: int = Field(50, ge=1, description="Requests one enrichment makes at most (3 s apart by default: "
                             "50 is two and a half minutes); the rest wait for the next.")


class WarcSettings(BaseModel):
    """`[warc]`: fetched pages written to standard WARC files (request and response records, gzip per record),
    for other tools, or to load again with `ingest import-warc`."""

    refresh: bool = Field(False, description="Write the pages refreshes fetch.")
    backfill: bool = Field(True, description="Write the pages and captures backfills fetch.")
    directory: str = Field("data/warc", description="Where the files go, named ingest-<time>-<serial>.warc.gz.")
    max_bytes: int = Field(1_000_000_000, ge=1024, description="A file this large is closed; the next page opens "
                           "another.")


class BackfillSettings(BaseModel):
    """`[backfill]`: `ingest backfill` loads profiles' past from a web archive speaking the Wayback Machine's CDX
    and `id_` APIs, and walks their live pages to the last."""

    archive_url: str = Field("https://web.archive.org", description="The archive (the Wayback Machine, or one "
                             "speaking its APIs). A host like any other: robots.txt, pacing, Retry-After.")
    since: str | None = Field(None, pattern=r"^\d{1,14}$", description="Only captures from this time on: a UTC "
                              "timestamp or a prefix of one, e.g. 2019 or 20190601.")
    until: str | None = Field(None, pattern=r"^\d{1,14}$", description="Only captures up to this time (as `since`).")
    max_captures: int = Field(500, ge=1, description="Captures of one profile a backfill reads at most (the archive "
                              "folds captures with identical bodies first).")
    captures_per_load: int = Field(100, ge=1, le=5000, description="Captures loaded per transaction; each "
                                   "profile's cursor advances with it, so a killed backfill resumes there.")
    live: bool = Field(True, description="Also walk each profile's live pages, to the last.")
    max_pages: int = Field(10_000, ge=1, description="Live pages of one profile a backfill walks at most "
                           "(`max_pages_per_profile` is the refresh's ceiling).")
    pages_per_chunk: int = Field(20, ge=1, le=1000, description="Live pages a backfill's walk loads per transaction; "
                                 "the walk moves on with each, so a killed walk resumes at its next page.")


class BlocksSettings(BaseModel):
    """What a run does when a site blocks it (sources that declare `bans_host`), or a profile shrinks suddenly."""

    model_config = ConfigDict(extra="forbid")

    cooldown_s: float = Field(3600.0, ge=0, description="After a block, no request to that host for this long; "
                              "its other profiles are counted as skipped.")
    shrink_ratio: float = Field(0.5, ge=0, le=1, description="A complete listing with fewer rows than this share "
                                "of the authorships it had is quarantined as `shrunk` (0: never).")


class ScheduleSettings(BaseModel):
    """When a group refreshes: a cron expression or a fixed interval, in a time zone."""

    model_config = ConfigDict(extra="forbid")

    cron: str | None = Field(None, description='Five-field cron expression, e.g. "0 6 * * *".')
    interval_s: float | None = Field(None, gt=0, description="Seconds between runs.")
    timezone: str = Field("UTC", description="IANA time zone the cron expression is read in, e.g. Europe/Berlin.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str | None) -> str | None:
        if value is not None and len(value.split()) != 5:
            raise ValueError(f"want five fields (minute hour day month weekday), got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> ScheduleSettings:
        if (self.cron is None) == (self.interval_s is None):
            raise ValueError("give exactly one of cron and interval_s")
        return self


def valid_database_url(value: str) -> str:
    try:
        url = make_url(value)
    except (ArgumentError, ValueError):
        raise ValueError("not a database URL (dialect+driver://user:password@host:port/database)") from None
    if (url.get_backend_name(), url.get_driver_name()) not in DATABASE_DRIVERS:
        raise ValueError(f"{url.drivername} is not supported: use sqlite:///PATH or "
                         "postgresql+psycopg://USER@HOST:PORT/DATABASE") from None
    return value


ExportFormat = Literal["jsonl", "csv", "parquet"]
EXPORT_FORMATS: tuple[str, ...] = get_args(ExportFormat)


class ExportSettings(BaseModel):
    """Where the scheduled export (`flows/export_changes.py`) delivers the changes since its last delivery."""

    model_config = ConfigDict(extra="forbid")

    directory: str | None = Field(None, description="Write the changes here: a subdirectory per delivery "
                                  "(full, after-CURSOR) and cursor.json, moved once the files are complete.")
    format: ExportFormat = "jsonl"
    database_url: str | None = Field(None, repr=False, description="Load the changes into this database by primary "
                                     "key, its cursor kept there (table ingest_export_cursor).")
    schedule: ScheduleSettings | None = Field(None, description="When `ingest serve` runs it; none: when triggered.")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        return value if value is None else valid_database_url(value)

    @model_validator(mode="after")
    def _somewhere(self) -> ExportSettings:
        if self.schedule is not None and not (self.directory or self.database_url):
            raise ValueError("a scheduled export needs a directory or a database_url")
        return self


class PersonSettings(BaseModel):
    """Profiles of one human on several sources: one person, whatever matching would say (`ingest people`)."""

    model_config = ConfigDict(extra="forbid")

    profiles: list[str] = Field(min_length=2, description="Profile URLs, e.g. a Scholar Feed author page and an "
                                "OpenAlex author.")


class GroupSettings(BaseModel):
    """A source group: its own profiles, refreshed on its own schedule, optionally split into shards."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="Lower-case letters, digits and dashes.")
    profiles: ProfilesSettings
    schedule: ScheduleSettings | None = Field(None, description="None: runs only when triggered.")
    shards: int = Field(1, ge=1, le=1000, description="Runs that share the group's profiles, one per shard.")

    @model_validator(mode="after")
    def _has_profiles(self) -> GroupSettings:
        if not self.profiles.urls and not self.profiles.sitemap:
            raise ValueError(f"group {self.name!r} lists no profile urls and no sitemap")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INGEST_", env_nested_delimiter="__", extra="forbid")

    database_url: str = Field("sqlite:///data/ingest.db", repr=False)  # may hold a password
    profiles: ProfilesSettings = Field(default_factory=ProfilesSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    archive: ArchiveSettings = Field(default_factory=ArchiveSettings)
    gscholar: GscholarSettings = Field(default_factory=GscholarSettings)
    openalex: OpenalexSettings = Field(default_factory=OpenalexSettings)
    arxiv: ArxivSettings = Field(default_factory=ArxivSettings)
    blocks: BlocksSettings = Field(default_factory=BlocksSettings)
    backfill: BackfillSettings = Field(default_factory=BackfillSettings)
    warc: WarcSettings = Field(default_factory=WarcSettings)
    export: ExportSettings = Field(default_factory=ExportSettings)
    allowed_hosts: list[str] = Field(
        default_factory=list, description="Hosts besides those of the profile and sitemap URLs."
    )
    batch_size: int = Field(50, ge=1, le=5000, description="Profiles per batch (one Prefect task, one load).")
    strict: bool = Field(False, description="A run with any quarantined page exits 1 (`ingest run --strict`).")
    concurrency: int = Field(4, ge=1, description="Batches in flight at once.")
    max_pages_per_profile: int = Field(100, ge=1)
    run_lease_s: float = Field(
        120.0, gt=0, description="A running run silent this long is taken as crashed and marked abandoned by the "
        "next run to start; a live run beats four times as often."
    )
    precedence: dict[str, list[str]] = Field(
        default_factory=lambda: {name: list(sources) for name, sources in DEFAULT_PRECEDENCE.items()},
        description="Which source's value a paper keeps when sources disagree: per field, sources strongest "
        "first. A field set here replaces its default; the others keep theirs. A source not listed ranks after "
        "those listed, and between two such the value first given stays until its own source changes it.")
    people: list[PersonSettings] = Field(
        default_factory=list, description="Profiles known to be one person; others are joined by ORCID or by a "
        "confident match (same byline name, three shared papers).")
    groups: list[GroupSettings] = Field(
        default_factory=list, description="Source groups with their own profiles and schedules (`ingest serve`, "
        "`ingest deploy`); without any, the top-level profiles form one unscheduled group, 'default'."
    )
    data_dir: str = Field("data", description="Local state, e.g. the Prefect server `ingest serve` starts itself.")
    prefect_server_keep_s: float = Field(
        900.0, ge=0, description="Without a configured Prefect server (PREFECT_API_URL), `ingest run` and `ingest "
        "serve` start a local one in DATA_DIR/prefect and keep it this long after the last command using it, so the "
        "next command needs no start-up of seconds; 0: each command starts its own and stops it when done.")

    def prefect_home(self) -> Path:
        """Where the local Prefect server `run` and `serve` start keeps its database (DATA_DIR/prefect)."""
        return Path(self.data_dir).resolve() / "prefect"

    @field_validator("groups")
    @classmethod
    def _unique_names(cls, groups: list[GroupSettings]) -> list[GroupSettings]:
        names = [group.name for group in groups]
        if len(set(names)) != len(names):
            raise ValueError(f"group names repeat: {sorted({n for n in names if names.count(n) > 1})}")
        return groups

    def group(self, name: str) -> GroupSettings:
        """The named group (see `groups`); raises ConfigError naming the groups there are."""
        for group in self.source_groups():
            if group.name == name:
                return group
        raise ConfigError(f"no group {name!r}; groups: {', '.join(g.name for g in self.source_groups())}")

    def source_groups(self) -> list[GroupSettings]:
        """The configured groups, or else the top-level profiles as group 'default'."""
        if self.groups:
            return self.groups
        return [GroupSettings.model_construct(name="default", profiles=self.profiles, schedule=None, shards=1)]

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return valid_database_url(value)

    @field_validator("precedence", mode="before")
    @classmethod
    def _over_defaults(cls, value: Any) -> Any:
        return {**DEFAULT_PRECEDENCE, **value} if isinstance(value, dict) else value

    @field_validator("precedence")
    @classmethod
    def _known_fields_and_sources(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        from ingest.sources.registry import all_sources  # the registry reads this module's settings classes

        if unknown := sorted(set(value) - set(RANKED_FIELDS)):
            raise ValueError(f"no paper field {', '.join(unknown)} (fields: {', '.join(RANKED_FIELDS)})")
        sources = all_sources()
        if unknown := sorted({s for ranking in value.values() for s in ranking} - set(sources)):
            raise ValueError(f"no source {', '.join(unknown)} (sources: {', '.join(sources)})")
        return {name: list(ranking) for name, ranking in value.items()}

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, *_: Any, **__: Any,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)


def find_config(path: str | Path | None) -> Path | None:
    """The config file in force: explicit path, else $INGEST_CONFIG, else ./config/ingest.toml."""
    if path is None:
        path = os.environ.get("INGEST_CONFIG") or (DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None)
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    return path


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings from every source; `overrides` (the command line) win. Raises `ConfigError`."""
    path = find_config(config)
    cls = Settings
    if path is not None:
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
        cls = type("Settings", (Settings,), {"model_config": {**Settings.model_config, "toml_file": path}})
    overrides = {k: v for k, v in overrides.items() if v is not None}
    try:
        return cls(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_source(e['loc'], overrides, path)}: {'.'.join(map(str, e['loc'])) or '(top level)'}: "
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise ConfigError(problems) from None


def _source(loc: tuple, overrides: dict, path: Path | None) -> str:
    """Where the offending value came from, in precedence order."""
    node: Any = overrides
    for part in loc:
        node = node.get(part) if isinstance(node, dict) else None
    if node is not None:
        return "command line"
    environment = {name.upper(): name for name in os.environ}  # read case-insensitively, as the settings are
    for depth in range(len(loc), 0, -1):
        name = "INGEST_" + "__".join(str(p) for p in loc[:depth]).upper()
        if name in environment:
            return f"environment variable {environment[name]}"
    return str(path) if path else "settings"
