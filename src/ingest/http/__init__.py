"""Fetching: httpx with tenacity retries, per-host pacing, robots.txt, allowed hosts and addresses."""
