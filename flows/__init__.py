"""Prefect flows: thin orchestration over the `ingest` library (installed as `ingest.flows`)."""
