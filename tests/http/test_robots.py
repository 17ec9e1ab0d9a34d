"""robots.txt helpers; the fetcher's use of them is in test_fetch.py."""

from __future__ import annotations

from ingest.http.robots import NO_RULES, parse, robots_url


def test_robots_url_is_at_the_root_of_the_site():
    assert robots_url("http://127.0.0.1:8740/author/1?page=2#x") == "http://127.0.0.1:8740/robots.txt"
    assert robots_url("https://example.org") == "https://example.org/robots.txt"


def test_wildcards_precedence_and_crawl_delay_are_understood():
    rules = parse(b"User-agent: *\nDisallow: /author/*?page=\nAllow: /author/1?page=2\nCrawl-delay: 1.5\n")
    assert rules.can_fetch("http://h/author/7", "ingest/0.1")
    assert not rules.can_fetch("http://h/author/7?page=3", "ingest/0.1")
    assert rules.can_fetch("http://h/author/1?page=2", "ingest/0.1")  # the longer, more specific rule wins
    assert rules.crawl_delay("ingest/0.1") == 1.5


def test_a_group_for_our_user_agent_applies_to_the_full_user_agent_string():
    rules = parse(b"User-agent: ingest\nDisallow: /\n\nUser-agent: *\nAllow: /\n")
    assert not rules.can_fetch("http://h/author/1", "ingest/0.1 (researcher-profile ETL)")
    assert rules.can_fetch("http://h/author/1", "otherbot/2")


def test_undecodable_or_missing_robots_txt_means_no_rules():
    assert parse(b"\xff\xfe garbage").can_fetch("http://h/x", "ingest")
    assert parse(None).can_fetch("http://h/x", "ingest") and NO_RULES.can_fetch("http://h/x", "ingest")
