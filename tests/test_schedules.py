"""Deployments from the configuration: one per source group and shard, carrying what to refresh."""

from __future__ import annotations

from ingest.config import load_settings
from ingest.schedules import deployment_specs
from ingest.shards import Shard

GROUPS = """
[profiles]
sitemap = "http://127.0.0.1:8740/sitemap.xml"

[[groups]]
name = "daily"
schedule = { cron = "0 6 * * *", timezone = "Europe/Berlin" }
shards = 3
profiles = { sitemap = "http://127.0.0.1:8740/sitemap.xml" }

[[groups]]
name = "seed"
schedule = { interval_s = 600 }
profiles = { urls = ["http://127.0.0.1:8740/author/1"], source = "scholarfeed" }
"""


def test_each_group_is_one_deployment_per_shard_with_its_profiles_and_schedule(tmp_path):
    path = tmp_path / "ingest.toml"
    path.write_text(GROUPS)
    specs = deployment_specs(load_settings(path))
    assert [(s.name, s.group, s.shard) for s in specs] == [
        ("daily-1-of-3", "daily", Shard(1, 3)), ("daily-2-of-3", "daily", Shard(2, 3)),
        ("daily-3-of-3", "daily", Shard(3, 3)), ("seed", "seed", Shard(1, 1))]
    assert (specs[0].schedule.cron, specs[0].schedule.timezone) == ("0 6 * * *", "Europe/Berlin")
    assert (specs[3].schedule.interval_s, specs[3].schedule.timezone) == (600, "UTC")
    assert specs[1].parameters({"batch_size": 7}) == {
        "urls": None, "sitemap": "http://127.0.0.1:8740/sitemap.xml", "source": None, "shard": 2, "shards": 3,
        "settings": {"batch_size": 7}}
    assert specs[3].parameters() == {"urls": ["http://127.0.0.1:8740/author/1"], "sitemap": None,
                                     "source": "scholarfeed", "shard": 1, "shards": 1, "settings": None}


def test_without_groups_the_top_level_profiles_are_one_unscheduled_group(tmp_path):
    path = tmp_path / "ingest.toml"
    path.write_text('[profiles]\nurls = ["http://127.0.0.1:8740/author/1"]\n')
    (spec,) = deployment_specs(load_settings(path))
    assert (spec.name, spec.schedule, spec.parameters()["urls"]) == ("default", None, ["http://127.0.0.1:8740/author/1"])
