"""Discover profile URLs from a sitemap (urlset, or a sitemap index one level deep)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ingest.http.fetch import XML, Fetcher

_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


class SitemapError(Exception):
    pass


def parse_sitemap(xml: bytes) -> tuple[list[str], list[str]]:
    """(page URLs, nested sitemap URLs) from a sitemap document."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise SitemapError(f"not a sitemap: {exc}") from None
    locs = [el.text.strip() for el in root.iter(f"{_NS}loc") if el.text and el.text.strip()]
    if root.tag == f"{_NS}sitemapindex":
        return [], locs
    if root.tag == f"{_NS}urlset":
        return locs, []
    raise SitemapError(f"not a sitemap: root element is {root.tag}")


async def discover(fetcher: Fetcher, sitemap_url: str) -> list[str]:
    """Every page URL the sitemap lists, in order, without duplicates."""
    fetched = await fetcher.get(sitemap_url, content_types=XML)
    urls, nested = parse_sitemap(fetched.body or b"")
    for url in nested:
        more, _ = parse_sitemap((await fetcher.get(url, content_types=XML)).body or b"")
        urls.extend(more)
    return list(dict.fromkeys(urls))
