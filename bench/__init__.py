"""Benchmarks, run on demand with `python -m bench` (never collected by pytest): see README, Performance."""
