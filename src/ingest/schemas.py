"""The published record contracts: JSON Schema generated from the table models and from each source's
declared fields, never written by hand."""

from __future__ import annotations

import json
from pathlib import Path

from ingest.sources import all_sources
from ingest.store import RECORD_TABLES
from ingest.store.tables import Change

CONTRACTS = (*RECORD_TABLES, Change)
# Each contract's version. Bump it with any change a consumer could break on (a field removed or retyped, a
# field newly required); adding an optional field is not one. `ingest schemas` keeps each version's schema as
# released (`schemas/released/`), and tests/test_schemas.py holds the current schema to additive changes of it.
SCHEMA_VERSIONS = {"author": 1, "paper": 1, "authorship": 1, "author_snapshot": 1, "author_yearly": 1, "person": 1,
                   "change": 1}
_NOT_CONTRACT = {"title", "description", "default", "examples"}  # prose: changing it breaks no reader


def record_schemas() -> dict[str, dict]:
    """Table name -> JSON Schema of one row, as downstream consumers read it, with its version."""
    out = {}
    for model in CONTRACTS:
        name = model.__tablename__
        schema = model.model_json_schema(mode="serialization")
        out[name] = {"$id": f"ingest/{name}/v{SCHEMA_VERSIONS[name]}", "version": SCHEMA_VERSIONS[name], **schema}
    return out


def breaking_changes(old: dict, new: dict) -> list[str]:
    """What in `new` would break a reader of `old`: a property removed or retyped, a property newly required."""
    found = []
    for name, was in old.get("properties", {}).items():
        now = new.get("properties", {}).get(name)
        if now is None:
            found.append(f"{name} removed")
        elif _shape(now) != _shape(was):
            found.append(f"{name} retyped")
    found += [f"{name} newly required" for name in set(new.get("required", [])) - set(old.get("required", []))]
    return sorted(found)


def _shape(schema):
    if isinstance(schema, dict):
        return {k: _shape(v) for k, v in schema.items() if k not in _NOT_CONTRACT}
    if isinstance(schema, list):
        return [_shape(v) for v in schema]
    return schema


def source_schemas() -> dict[str, dict]:
    """Source name -> JSON Schema of its own values in the records' `source_metrics` and `source_fields`."""
    return {
        name: {
            "title": f"{name}: the source's own values",
            "type": "object",
            "properties": {
                "author.source_metrics": source.author_metrics.model_json_schema(mode="serialization"),
                "author.source_fields": source.author_fields.model_json_schema(mode="serialization"),
                f"paper.source_fields.{name}": source.paper_fields.model_json_schema(mode="serialization"),
            },
        }
        for name, source in all_sources().items()
    }


def all_schemas() -> dict[str, dict]:
    """Path under `schemas/` -> its JSON Schema."""
    return {**{f"{name}.schema.json": schema for name, schema in record_schemas().items()},
            **{f"sources/{name}.schema.json": schema for name, schema in source_schemas().items()}}


def released_path(directory: Path, name: str, version: int) -> Path:
    return directory / "released" / f"{name}.v{version}.schema.json"


def write_schemas(directory: Path) -> list[Path]:
    """Write the current schemas, and each record schema's version as released if it is new."""
    written = []
    releases = {released_path(directory, name, schema["version"]): schema for name, schema in record_schemas().items()}
    for path, schema in [*((directory / name, schema) for name, schema in all_schemas().items()),
                         *((path, schema) for path, schema in releases.items() if not path.exists())]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written
