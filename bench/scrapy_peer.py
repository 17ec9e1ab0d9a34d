"""The peer: a Scrapy spider doing the same crawl, parse and SQLite load as our first refresh.

Its best settings, fixed here: 64 requests in flight (per domain too), no AutoThrottle, no robots.txt,
no HTTP cache, warnings only. Its own selectors, one item per page, and a pipeline that writes to
SQLite in batched `executemany` commits.
"""

from __future__ import annotations

import re
import sqlite3

import scrapy
from scrapy.crawler import CrawlerProcess

from bench.measure import clock, result

SETTINGS = {
    "CONCURRENT_REQUESTS": 64,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 64,
    "AUTOTHROTTLE_ENABLED": False,
    "ROBOTSTXT_OBEY": False,
    "HTTPCACHE_ENABLED": False,
    "LOG_LEVEL": "WARNING",
    "ITEM_PIPELINES": {"bench.scrapy_peer.SqlitePipeline": 300},
}
BATCH = 50  # pages per commit, as our default batch of profiles
SCHEMA = """
CREATE TABLE author (source_id TEXT PRIMARY KEY, name TEXT, category TEXT, h_index INT, citations INT,
                     paper_count INT, novelty_pct INT, ai_score INT, profile_url TEXT);
CREATE TABLE paper (arxiv_id TEXT PRIMARY KEY, title TEXT, abstract TEXT, category TEXT, published_on TEXT,
                    code_url TEXT, authors TEXT, orgs TEXT);
CREATE TABLE authorship (author_id TEXT, arxiv_id TEXT, position INT, PRIMARY KEY (author_id, arxiv_id));
CREATE TABLE page (url TEXT PRIMARY KEY, author_id TEXT);
"""
_METRICS = {"h-index": "h_index", "papers": "paper_count", "citations": "citations", "novelty": "novelty_pct",
            "ai score": "ai_score"}


def _int(text: str | None) -> int | None:
    digits = re.sub(r"[^\d]", "", text or "")
    return int(digits) if digits else None


class ProfileSpider(scrapy.Spider):
    name = "profiles"

    def __init__(self, sitemap: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.start_urls = [sitemap]

    def parse(self, response):
        response.selector.remove_namespaces()
        for url in response.xpath("//loc/text()").getall():
            yield scrapy.Request(url, callback=self.parse_profile)

    def parse_profile(self, response):
        header = response.css("header.author-header")
        author = {"source_id": header.attrib["data-author-id"], "name": header.css("h1.author-name::text").get(),
                  "category": header.css(".category-badge::text").get(), "profile_url": response.url.split("?")[0]}
        for metric in header.css(".author-metrics .metric"):
            field = _METRICS.get((metric.css("dt::text").get() or "").strip().lower())
            if field:
                author[field] = _int(metric.css("dd::text").get())
        start = int(response.css("ol.paper-list::attr(start)").get() or 1)
        papers = []
        for card in response.css("article.paper-card"):
            href = card.css(".paper-title a::attr(href)").get() or ""
            papers.append({
                "arxiv_id": href.rsplit("/", 1)[-1] or None,
                "title": " ".join(card.css(".paper-title ::text").getall()).strip(),
                "abstract": card.css(".paper-abstract::text").get(),
                "category": card.css(".paper-category::text").get(),
                "published_on": card.css(".paper-meta time::attr(datetime)").get(),
                "code_url": card.css("a.code-badge::attr(href)").get(),
                "authors": "|".join(card.css(".paper-byline .author::text").getall()),
                "orgs": "|".join(card.css(".paper-byline .org::text").getall()),
            })
        yield {"url": response.url, "author": author, "start": start, "papers": papers}
        next_href = response.css('a[rel="next"]::attr(href)').get()
        if next_href:
            yield response.follow(next_href, callback=self.parse_profile)


class SqlitePipeline:
    def __init__(self, path: str) -> None:
        self.path = path
        self.items: list[dict] = []

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings["BENCH_SQLITE_PATH"])

    def open_spider(self, spider=None) -> None:
        self.db = sqlite3.connect(self.path)
        self.db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;" + SCHEMA)

    def process_item(self, item, spider=None):
        self.items.append(item)
        if len(self.items) >= BATCH:
            self._flush()
        return item

    def close_spider(self, spider=None) -> None:
        self._flush()
        self.db.close()

    def _flush(self) -> None:
        items, self.items = self.items, []
        columns = ("source_id", "name", "category", "h_index", "citations", "paper_count", "novelty_pct",
                   "ai_score", "profile_url")
        with self.db:
            self.db.executemany(f"INSERT OR REPLACE INTO author VALUES ({','.join('?' * len(columns))})",
                                [tuple(i["author"].get(c) for c in columns) for i in items])
            self.db.executemany("INSERT OR IGNORE INTO paper VALUES (?,?,?,?,?,?,?,?)", [
                (p["arxiv_id"], p["title"], p["abstract"], p["category"], p["published_on"], p["code_url"],
                 p["authors"], p["orgs"]) for i in items for p in i["papers"]])
            self.db.executemany("INSERT OR REPLACE INTO authorship VALUES (?,?,?)", [
                (i["author"]["source_id"], p["arxiv_id"], i["start"] + n) for i in items
                for n, p in enumerate(i["papers"])])
            self.db.executemany("INSERT OR REPLACE INTO page VALUES (?,?)",
                                [(i["url"], i["author"]["source_id"]) for i in items])


def crawl(sitemap: str, sqlite_path: str) -> dict:
    process = CrawlerProcess(SETTINGS | {"BENCH_SQLITE_PATH": sqlite_path})
    crawler = process.create_crawler(ProfileSpider)
    start = clock()
    process.crawl(crawler, sitemap=sitemap)
    process.start()
    pages = crawler.stats.get_value("item_scraped_count", 0)
    out = result(start, pages)
    with sqlite3.connect(sqlite_path) as db:
        rows = sum(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                   for table in ("author", "paper", "authorship", "page"))
    return out | {"rows": rows, "rows_per_s": round(rows / out["seconds"], 1)}
