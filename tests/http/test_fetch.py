"""The fetcher against the bundled site on 127.0.0.1, with scripted responses."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from ingest.config import HttpSettings
from ingest.http.fetch import XML, Fetcher, FetchError, Validators
from ingest.http.politeness import Politeness, politeness_for
from ingest.site.server import Response, serve_in_thread

FAST = dict(backoff_base_s=0.01, backoff_max_s=0.02, max_attempts=3)
PAGE = "/author/1"


def fetcher(site_url: str, **settings) -> Fetcher:
    return Fetcher(HttpSettings(**(FAST | settings)), frozenset({"127.0.0.1"}))


async def test_fetches_a_page_with_its_validators_and_hash(site, site_url):
    async with fetcher(site_url) as f:
        page = await f.get(site_url + PAGE)
    assert page.status == 200 and b"Sashank Reddi" in page.body
    assert page.etag and page.last_modified and len(page.content_sha256) == 64
    assert not page.unchanged
    assert site.requests[-1][2]["user-agent"].startswith("ingest/")


async def test_sends_a_configured_user_agent(site, site_url):
    async with fetcher(site_url, user_agent="probe/1.0") as f:
        await f.get(site_url + PAGE)
    assert site.requests[-1][2]["user-agent"] == "probe/1.0"


async def test_conditional_get_answered_304_is_unchanged(site, site_url):
    async with fetcher(site_url) as f:
        first = await f.get(site_url + PAGE)
        again = await f.get(site_url + PAGE, Validators(first.etag, first.last_modified, first.content_sha256))
    assert again.status == 304 and again.body is None and again.unchanged
    assert again.content_sha256 == first.content_sha256
    assert site.requests[-1][2]["if-none-match"] == first.etag


async def test_equal_body_is_unchanged_when_the_site_sends_no_validators(site, site_url):
    site.validators = False
    async with fetcher(site_url) as f:
        first = await f.get(site_url + PAGE)
        again = await f.get(site_url + PAGE, Validators(None, None, first.content_sha256))
        other = await f.get(site_url + PAGE, Validators(None, None, "0" * 64))
    assert first.etag is None and again.status == 200 and again.unchanged
    assert not other.unchanged


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_transient_statuses_are_retried(site, site_url, status):
    site.script(PAGE, Response(status), Response(status))
    async with fetcher(site_url) as f:
        page = await f.get(site_url + PAGE)
    assert page.status == 200
    assert site.hits[PAGE] == 3 and f.retries == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
async def test_other_client_errors_are_not_retried(site, site_url, status):
    site.script(PAGE, Response(status))
    async with fetcher(site_url) as f:
        with pytest.raises(FetchError) as excinfo:
            await f.get(site_url + PAGE)
    assert excinfo.value.reason == f"http_{status}" and not excinfo.value.retryable
    assert site.hits[PAGE] == 1 and f.retries == 0


async def test_gives_up_after_max_attempts_with_a_clear_error(site, site_url):
    site.script(PAGE, *[Response(503)] * 5)
    async with fetcher(site_url, max_attempts=3) as f:
        with pytest.raises(FetchError, match="still HTTP 503 after 3 attempts") as excinfo:
            await f.get(site_url + PAGE)
    assert excinfo.value.retryable and site.hits[PAGE] == 3


async def test_retry_after_seconds_is_honoured(site, site_url):
    site.script(PAGE, Response(429, headers={"Retry-After": "1"}))
    async with fetcher(site_url) as f:
        await f.get(site_url + PAGE)
    (first, *_), (second, *_) = list(site.requests)[-2:]
    assert second - first >= 0.95  # backoff alone would have waited at most 0.02 s


async def test_retry_after_is_capped(site, site_url):
    site.script(PAGE, Response(503, headers={"Retry-After": "3600"}))
    async with fetcher(site_url, retry_after_cap_s=0.1) as f:
        page = await f.get(site_url + PAGE)
    assert page.status == 200


async def test_refuses_bodies_over_the_size_cap(site, site_url):
    async with fetcher(site_url, max_body_bytes=1000) as f:
        with pytest.raises(FetchError, match="exceeds the cap") as excinfo:
            await f.get(site_url + PAGE)
    assert excinfo.value.reason == "too_large"


async def test_accepts_only_the_content_types_asked_for(site, site_url):
    site.script(PAGE, Response(200, b"{}", {"Content-Type": "application/json"}))
    site.script(PAGE, Response(200, b"{}", {"Content-Type": "application/json; charset=utf-8"}))
    async with fetcher(site_url) as f:
        with pytest.raises(FetchError, match="expected text/html, got application/json"):
            await f.get(site_url + PAGE, content_types=("text/html",))
        assert (await f.get(site_url + PAGE, content_types=("application/json",))).body == b"{}"
        sitemap = await f.get(site_url + "/sitemap.xml", content_types=XML)
        assert (await f.get(site_url + PAGE)).status == 200  # none named: any type
    assert b"<urlset" in sitemap.body


async def test_an_answer_carries_its_headers_and_when_it_came(site, site_url):
    before = datetime.now(timezone.utc)
    async with fetcher(site_url) as f:
        fetched = await f.get(site_url + PAGE)
        again = await f.get(site_url + PAGE, Validators(fetched.etag, fetched.last_modified, fetched.content_sha256))
    assert fetched.headers["content-type"].startswith("text/html") and fetched.headers["etag"] == fetched.etag
    assert before <= fetched.fetched_at <= again.fetched_at <= datetime.now(timezone.utc)
    assert again.status == 304 and "etag" in again.headers


async def test_follows_redirects_within_allowed_hosts(site, site_url):
    site.script("/old/1", Response(301, headers={"Location": "/author/1"}))
    async with fetcher(site_url) as f:
        page = await f.get(site_url + "/old/1")
    assert page.url == site_url + "/author/1" and page.status == 200


async def test_redirect_loops_are_stopped(site, site_url):
    site.script("/a", *[Response(302, headers={"Location": "/b"})] * 3)
    site.script("/b", *[Response(302, headers={"Location": "/a"})] * 3)
    async with fetcher(site_url) as f:
        with pytest.raises(FetchError) as excinfo:
            await f.get(site_url + "/a")
    assert excinfo.value.reason == "redirect_loop"


async def test_redirect_to_a_host_outside_the_allowed_list_is_refused_without_connecting(site, site_url, other_host):
    url, accepted = other_host
    site.script(PAGE, Response(302, headers={"Location": url + "/steal"}))
    async with fetcher(site_url) as f:
        with pytest.raises(FetchError) as excinfo:
            await f.get(site_url + PAGE)
    assert excinfo.value.reason == "redirect_refused"
    assert accepted == []


async def test_urls_outside_the_allowed_hosts_are_not_fetched(other_host):
    url, accepted = other_host
    async with Fetcher(HttpSettings(), frozenset({"127.0.0.1"})) as f:
        with pytest.raises(FetchError) as excinfo:
            await f.get(url + "/author/1")
    assert excinfo.value.reason == "host_not_allowed" and accepted == []


async def test_connection_refused_is_retried_then_reported():
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    async with Fetcher(HttpSettings(**FAST), frozenset({"127.0.0.1"})) as f:
        with pytest.raises(FetchError) as excinfo:
            await f.get(f"http://127.0.0.1:{port}/author/1")
    assert excinfo.value.reason == "connection" and excinfo.value.retryable
    assert f.retries == 2


# -- what may be fetched: addresses and robots.txt ---------------------------------------------------

def robots_txt(text: str) -> Response:
    return Response(200, text.encode(), {"Content-Type": "text/plain"})


async def test_a_host_outside_the_allowed_networks_is_refused_without_connecting(other_host):
    url, accepted = other_host
    settings = HttpSettings(**FAST, allowed_networks=["127.0.0.1/32"])
    async with Fetcher(settings, frozenset({"127.0.0.2"})) as f:
        with pytest.raises(FetchError) as excinfo:
            await f.get(url + PAGE)
    assert excinfo.value.reason == "address_not_allowed" and not excinfo.value.retryable
    assert "127.0.0.2 resolves to 127.0.0.2, outside" in excinfo.value.detail
    assert accepted == []


async def test_loopback_is_refused_when_the_allowed_networks_leave_it_out(site, site_url):
    async with fetcher(site_url, allowed_networks=[]) as f:
        with pytest.raises(FetchError, match="address_not_allowed"):
            await f.get(site_url + PAGE)
    assert sum(site.hits.values()) == 0  # not even robots.txt


async def test_a_redirect_into_a_refused_network_is_refused_without_connecting(site, site_url, other_host):
    url, accepted = other_host
    site.script(PAGE, Response(302, headers={"Location": url + PAGE}))
    settings = HttpSettings(**FAST, allowed_networks=["127.0.0.1/32"])
    async with Fetcher(settings, frozenset({"127.0.0.1", "127.0.0.2"})) as f:
        with pytest.raises(FetchError, match="address_not_allowed"):
            await f.get(site_url + PAGE)
    assert accepted == []


async def test_a_name_is_judged_by_the_addresses_it_resolves_to(site, site_url):
    local = site_url.replace("127.0.0.1", "localhost")
    async with Fetcher(HttpSettings(**FAST), frozenset({"localhost"})) as f:
        assert (await f.get(local + PAGE)).status == 200
    async with Fetcher(HttpSettings(**FAST, allowed_networks=[]), frozenset({"localhost"})) as f:
        with pytest.raises(FetchError, match="localhost resolves to"):
            await f.get(local + PAGE)


async def test_robots_txt_is_fetched_once_per_site_and_a_disallowed_page_is_not_requested(site, site_url):
    site.script("/robots.txt", robots_txt("User-agent: *\nDisallow: /author/1002\n"))
    async with fetcher(site_url) as f:
        for _ in range(3):
            assert (await f.get(site_url + PAGE)).status == 200
        with pytest.raises(FetchError) as excinfo:
            await f.get(site_url + "/author/1002")
    assert excinfo.value.reason == "robots" and not excinfo.value.retryable
    assert "robots.txt disallows it for 'ingest/" in excinfo.value.detail
    assert site.hits["/robots.txt"] == 1 and site.hits["/author/1002"] == 0


async def test_robots_wildcards_and_our_user_agents_group_apply(site, site_url):
    site.script("/robots.txt", robots_txt("User-agent: *\nAllow: /\n\nUser-agent: ingest\nDisallow: /*?page=\n"))
    async with fetcher(site_url) as f:
        assert (await f.get(site_url + "/author/1001")).status == 200
        with pytest.raises(FetchError, match="robots"):
            await f.get(site_url + "/author/1001?page=2")


async def test_robots_txt_can_be_ignored_by_configuration(site, site_url):
    site.script("/robots.txt", robots_txt("User-agent: *\nDisallow: /\n"))
    async with fetcher(site_url, obey_robots_txt=False) as f:
        assert (await f.get(site_url + PAGE)).status == 200
    assert site.hits["/robots.txt"] == 0


async def test_a_redirect_to_a_disallowed_path_is_not_followed(site, site_url):
    site.script("/robots.txt", robots_txt("User-agent: *\nDisallow: /private\n"))
    site.script(PAGE, Response(301, headers={"Location": "/private/1"}))
    async with fetcher(site_url) as f:
        with pytest.raises(FetchError, match="robots"):
            await f.get(site_url + PAGE)
    assert site.hits["/private/1"] == 0


@pytest.mark.parametrize("status", [404, 403, 410])
async def test_a_missing_or_forbidden_robots_txt_means_no_rules(site, site_url, status):
    site.script("/robots.txt", Response(status))
    async with fetcher(site_url) as f:
        assert (await f.get(site_url + PAGE)).status == 200


async def test_an_unreachable_robots_txt_forbids_the_site_for_the_run(site, site_url):
    site.script("/robots.txt", *[Response(503)] * 3)
    async with fetcher(site_url) as f:
        for _ in range(2):
            with pytest.raises(FetchError, match="robots.txt unreachable: still HTTP 503") as excinfo:
                await f.get(site_url + PAGE)
            assert excinfo.value.retryable  # a failure, tried again next run
    assert site.hits["/robots.txt"] == 3 and site.hits[PAGE] == 0


async def test_a_robots_txt_answered_after_a_retry_is_used(site, site_url):
    site.script("/robots.txt", Response(503), robots_txt("User-agent: *\nDisallow: /author/1\n"))
    async with fetcher(site_url) as f:
        with pytest.raises(FetchError, match="robots"):
            await f.get(site_url + PAGE)
    assert f.retries == 1


async def test_crawl_delay_is_honoured_as_a_minimum_interval(site, site_url):
    site.script("/robots.txt", robots_txt("User-agent: *\nCrawl-delay: 0.3\n"))
    async with fetcher(site_url) as f:
        await asyncio.gather(*(f.get(f"{site_url}/author/{a}") for a in (1001, 1002, 1003)))
    starts = sorted(at for at, path, _ in site.requests if path.startswith("/author/"))
    assert min(b - a for a, b in zip(starts, starts[1:])) >= 0.28


async def test_crawl_delay_is_capped(site, site_url):
    site.script("/robots.txt", robots_txt("User-agent: *\nCrawl-delay: 86400\n"))
    async with fetcher(site_url, max_crawl_delay_s=0.2) as f:
        await asyncio.gather(*(f.get(f"{site_url}/author/{a}") for a in (1001, 1002)))
    first, second = sorted(at for at, path, _ in site.requests if path.startswith("/author/"))
    assert second - first >= 0.18


# -- politeness per host ---------------------------------------------------------------------------

LOOPBACKS = frozenset({"127.0.0.1", "127.0.0.2"})


@pytest.fixture
def second_site_url(site) -> Iterator[str]:
    """The same site on a second loopback host, 127.0.0.2."""
    with serve_in_thread(site, "127.0.0.2") as url:
        yield url


def paced_by_config(settings: dict) -> Fetcher:
    return Fetcher(HttpSettings(**settings, hosts={"127.0.0.2": {"min_interval_s": 3600.0}}), LOOPBACKS)


def paced_by_a_source_default(settings: dict) -> Fetcher:
    http, defaults = HttpSettings(**settings), [("127.0.0.2", Politeness(3600.0, 1))]
    return Fetcher(http, LOOPBACKS, politeness=lambda host: politeness_for(host, http, defaults))


@pytest.mark.parametrize("make_fetcher", [paced_by_config, paced_by_a_source_default])
async def test_each_host_is_spaced_by_its_own_politeness(site, site_url, second_site_url, make_fetcher):
    interval = 0.1  # 127.0.0.1: the global min_interval_s; 127.0.0.2: an hour
    async with make_fetcher(FAST | dict(obey_robots_txt=False, min_interval_s=interval)) as f:
        await f.get(second_site_url + PAGE)
        held = asyncio.create_task(f.get(second_site_url + PAGE))  # due an hour after the first
        await asyncio.gather(*(f.get(f"{site_url}/author/{a}") for a in (1001, 1002, 1003)))
        assert not held.done()  # 127.0.0.1 was served meanwhile, at its own pace
        held.cancel()
        with pytest.raises(asyncio.CancelledError):
            await held
    hosts = [headers["host"].split(":")[0] for _, _, headers in site.requests]
    assert hosts.count("127.0.0.2") == 1 and hosts.count("127.0.0.1") == 3
    starts = sorted(at for at, _, headers in site.requests if headers["host"].startswith("127.0.0.1:"))
    # Lower bounds from the first start; arrivals lag starts by a connection's setup, hence a little slack.
    assert all(start - starts[0] >= n * interval - 0.02 for n, start in enumerate(starts))
