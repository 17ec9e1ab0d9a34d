"""Which politeness a host gets: global settings < a source's default for its hosts < the host's own config."""

from __future__ import annotations

import pytest

from ingest.config import HttpSettings
from ingest.http.politeness import Politeness, politeness_for

SCHOLAR = ("scholar.google.*", Politeness(5.0, 1, 2.0))
ARXIV = ("*arxiv.org", Politeness(3.0, 1))


def http(**settings) -> HttpSettings:
    return HttpSettings.model_validate(settings)


def test_a_host_nobody_describes_gets_the_global_settings():
    settings = http(min_interval_s=0.5, per_host_concurrency=4, jitter_s=0.25)
    assert politeness_for("example.org", settings, [SCHOLAR, ARXIV]) == Politeness(0.5, 4, 0.25)


def test_the_defaults_of_the_global_settings_are_those_of_politeness():
    assert politeness_for("example.org", HttpSettings(), ()) == Politeness()


def test_a_source_default_whose_pattern_matches_replaces_the_global_settings_whole():
    settings = http(min_interval_s=0.5, per_host_concurrency=4, jitter_s=0.25)
    assert politeness_for("scholar.google.com", settings, [SCHOLAR, ARXIV]) == Politeness(5.0, 1, 2.0)
    assert politeness_for("export.arxiv.org", settings, [SCHOLAR, ARXIV]) == Politeness(3.0, 1, 0.0)


def test_the_first_matching_source_default_applies():
    anywhere = ("*", Politeness(9.0, 9, 9.0))
    assert politeness_for("scholar.google.de", HttpSettings(), [SCHOLAR, anywhere]) == SCHOLAR[1]
    assert politeness_for("scholar.google.de", HttpSettings(), [anywhere, SCHOLAR]) == anywhere[1]


def test_a_config_entry_overrides_only_the_fields_it_sets():
    settings = http(hosts={"scholar.google.com": {"min_interval_s": 8.0}})
    assert politeness_for("scholar.google.com", settings, [SCHOLAR]) == Politeness(8.0, 1, 2.0)


def test_a_config_entry_overrides_the_global_settings_where_no_source_default_applies():
    settings = http(min_interval_s=0.5, per_host_concurrency=4, hosts={"arxiv.org": {"concurrency": 2, "jitter_s": 1.0}})
    assert politeness_for("arxiv.org", settings, ()) == Politeness(0.5, 2, 1.0)


def test_a_config_entry_may_set_a_field_back_to_zero():
    settings = http(hosts={"scholar.google.com": {"jitter_s": 0.0, "min_interval_s": 0.0}})
    assert politeness_for("scholar.google.com", settings, [SCHOLAR]) == Politeness(0.0, 1, 0.0)


def test_a_config_pattern_applies_to_every_host_it_matches():
    settings = http(hosts={"*.example.org": {"min_interval_s": 2.0}})
    assert politeness_for("a.example.org", settings, ()).interval_s == 2.0
    assert politeness_for("b.a.example.org", settings, ()).interval_s == 2.0
    assert politeness_for("example.org", settings, ()).interval_s == 0.0


def test_an_exact_host_name_wins_over_a_pattern_whatever_the_order():
    settings = http(hosts={"*.example.org": {"min_interval_s": 2.0}, "a.example.org": {"min_interval_s": 7.0}})
    assert politeness_for("a.example.org", settings, ()).interval_s == 7.0
    assert politeness_for("b.example.org", settings, ()).interval_s == 2.0


def test_of_two_matching_config_patterns_the_first_written_applies():
    settings = http(hosts={"*.example.org": {"min_interval_s": 2.0}, "a.*": {"min_interval_s": 7.0}})
    assert politeness_for("a.example.org", settings, ()).interval_s == 2.0


@pytest.mark.parametrize("host", ["Scholar.Google.COM", "scholar.google.com"])
def test_host_names_and_patterns_match_whatever_their_case(host):
    settings = http(hosts={"SCHOLAR.google.com": {"concurrency": 3}, "*.ARXIV.org": {"concurrency": 2}})
    defaults = [("Scholar.Google.*", Politeness(5.0, 1))]
    assert politeness_for(host, settings, defaults) == Politeness(5.0, 3)
    assert politeness_for("Export.ArXiv.org", settings, ()).concurrency == 2
