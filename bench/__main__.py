"""`python -m bench [--quick] [--runs N]`: every figure of the performance issue, as a table and a JSON file.

Measurements of one run index are taken round-robin (ours, then each yardstick), so a slow spell on the
machine touches every figure alike; ratios are medians over medians.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.harness import pg_schema, prefect_server, run_worker, site_server, temp_sqlite_url
from bench.report import Row, compare, fmt, machine, markdown, spread
from bench.sample import page_urls
from bench.startup import OneProfileRuns
from ingest.site.corpus import Corpus

RESULTS = Path(__file__).resolve().parent / "results"
CLIENTS = ("httpx", "aiohttp")  # the bare loops run on each; the faster is the yardstick


def fastest(m: dict[str, list[dict]], loop: str, key: str = "pages_per_s") -> list[dict]:
    """Per run, the faster of the bare loop's clients."""
    return [max(runs, key=lambda run: run[key]) for runs in zip(*(m[f"{loop}_{client}"] for client in CLIENTS))]


def measure(profiles: int, runs: int, load_profiles: int, workdir: str, pg: bool) -> dict[str, list[dict]]:
    """Everything measured against a site of `profiles` profiles, `runs` times each."""
    out: dict[str, list[dict]] = {}

    def record(name: str, value: dict) -> dict:
        out.setdefault(name, []).append(value)
        print(f"  {name}: {json.dumps(value)}", file=sys.stderr, flush=True)
        return value

    with site_server(profiles) as site, prefect_server() as (prefect, server_start_s):
        out["prefect_server_start"] = [{"seconds": round(server_start_s, 2)}]
        sitemap = f"{site.base}/sitemap.xml"
        urls = page_urls(Corpus(profiles), site.base)
        run_worker("bare_fetch", site, urls=urls)  # warms the site's card cache: every figure sees a warm site
        one_profile = OneProfileRuns(site.base, Path(workdir) / "cli")
        for _ in range(runs):
            record("one_profile_run", one_profile.measure())
            record("ceiling", run_worker("ceiling", site, base=site.base, urls=urls))
            db = temp_sqlite_url(workdir)
            record("first", run_worker("refresh", site, database_url=db, sitemap=sitemap))
            record("unchanged", run_worker("refresh", site, database_url=db, sitemap=sitemap, count=False))
            for client in CLIENTS:
                record(f"bare_conditional_{client}", run_worker("bare_conditional", site, client=client,
                                                                database_path=db.removeprefix("sqlite:///")))
                record(f"bare_fetch_parse_{client}", run_worker("bare_fetch_parse", site, sitemap=sitemap,
                                                                client=client))
            record("fetch", run_worker("fetch", site, urls=urls))
            for client in CLIENTS:
                record(f"bare_fetch_{client}", run_worker("bare_fetch", site, urls=urls, client=client))
            record("scrapy", run_worker("scrapy", site, sitemap=sitemap,
                                        sqlite_path=temp_sqlite_url(workdir).removeprefix("sqlite:///")))
            record("flow", run_worker("flow", site, prefect, env={"PREFECT_API_URL": prefect.base},
                                      database_url=temp_sqlite_url(workdir),
                                      warmup_database_url=temp_sqlite_url(workdir), sitemap=sitemap,
                                      warmup_url=f"{site.base}/author/1", workdir=workdir))
            if pg:
                with pg_schema() as url:
                    record("pg_first", run_worker("refresh", site, database_url=url, sitemap=sitemap))
    for _ in range(runs):
        record("extract", run_worker("extract", profiles=min(200, profiles), corpus_profiles=profiles))
        phase = {"profiles": load_profiles, "corpus_profiles": profiles}
        record("load", run_worker("load", database_url=temp_sqlite_url(workdir), **phase))
        record("orm_load", run_worker("orm_load", database_url=temp_sqlite_url(workdir), **phase))
        if pg:
            with pg_schema() as url:
                record("pg_load", run_worker("load", database_url=url, **phase))
            with pg_schema() as url:
                record("pg_orm_load", run_worker("orm_load", database_url=url, **phase))
    return out


def scaling(sizes: list[int], runs: int, workdir: str, known: dict[int, list[dict]]) -> dict[int, list[dict]]:
    """The first refresh at each corpus size (reusing sizes already measured)."""
    out = dict(known)
    for size in sizes:
        if size in out:
            continue
        with site_server(size) as site:
            run_worker("bare_fetch", site, urls=page_urls(Corpus(size), site.base))  # warm the site
            out[size] = [run_worker("refresh", site, database_url=temp_sqlite_url(workdir),
                                    sitemap=f"{site.base}/sitemap.xml") for _ in range(runs)]
            print(f"  scaling {size}: {json.dumps(out[size])}", file=sys.stderr, flush=True)
    return out


def table(m: dict[str, list[dict]], scale: dict[int, list[dict]], sizes: list[int]) -> list[Row]:
    ours_us, parse_us, bs4_us = ([{"us": r[k]} for r in m["extract"]] for k in ("ours_us", "selectolax_us", "bs4_us"))
    rows = [
        compare("one-profile `ingest run`, wall, no Prefect server configured (a kept one found)", m["one_profile_run"],
                None, "warm_s", "s", target="<= 3 s"),
        compare("one-profile `ingest run`, wall, no Prefect server configured or kept", m["one_profile_run"], None,
                "cold_s", "s"),
        compare("site alone (ceiling, raw keep-alive client)", m["ceiling"], None, "pages_per_s", "pages/s"),
        compare("first refresh → SQLite", m["first"], m["scrapy"], "pages_per_s", "pages/s", "Scrapy", ">= 5"),
        compare("first refresh → SQLite", m["first"], fastest(m, "bare_fetch_parse"), "pages_per_s", "pages/s",
                "fastest bare fetch+selectolax loop", ">= 0.8"),
        compare("first refresh → SQLite", m["first"], m["bare_fetch_parse_httpx"], "pages_per_s", "pages/s",
                "bare httpx+selectolax loop"),
        compare("first refresh → SQLite", m["first"], m["bare_fetch_parse_aiohttp"], "pages_per_s", "pages/s",
                "bare aiohttp+selectolax loop"),
        compare("first refresh rows/s", m["first"], m["scrapy"], "rows_per_s", "rows/s", "Scrapy"),
        compare("first refresh peak RSS (all its processes)", m["first"], m["scrapy"], "peak_rss_mb", "MiB", "Scrapy"),
        compare("unchanged refresh (all 304)", m["unchanged"], m["first"], "pages_per_s", "pages/s",
                "first refresh", ">= 6"),
        compare("unchanged refresh (all 304)", m["unchanged"], fastest(m, "bare_conditional"), "pages_per_s",
                "pages/s", "fastest bare conditional-GET loop", ">= 0.9"),
        compare("unchanged refresh (all 304)", m["unchanged"], m["bare_conditional_httpx"], "pages_per_s",
                "pages/s", "bare httpx conditional GETs"),
        compare("unchanged refresh (all 304)", m["unchanged"], m["bare_conditional_aiohttp"], "pages_per_s",
                "pages/s", "bare aiohttp conditional GETs"),
        compare("extraction (CPU per page)", ours_us, parse_us, "us", "µs", "bare selectolax parse", "<= 2"),
        compare("BeautifulSoup parse (CPU per page)", bs4_us, parse_us, "us", "µs", "bare selectolax parse"),
        compare("load → SQLite", m["load"], m["orm_load"], "rows_per_s", "rows/s", "per-row SQLModel", ">= 20"),
        compare("fetch alone", m["fetch"], m["bare_fetch_httpx"], "pages_per_s", "pages/s", "bare httpx gather"),
        compare("fetch alone", m["fetch"], m["bare_fetch_aiohttp"], "pages_per_s", "pages/s", "bare aiohttp gather"),
        compare("through Prefect (local server)", m["flow"], m["first"], "pages_per_s", "pages/s", "library alone",
                ">= 0.85"),
        compare("Prefect server's CPU meanwhile", m["flow"], None, "prefect_cpu_share", "cores"),
        compare("Prefect one-time start-up: process", m["flow"], None, "startup_s", "s"),
        compare("Prefect one-time start-up: server", m["prefect_server_start"], None, "seconds", "s"),
    ]
    if "pg_first" in m:
        rows += [
            compare("first refresh → PostgreSQL", m["pg_first"], m["first"], "pages_per_s", "pages/s", "→ SQLite",
                    ">= 0.9"),
            compare("load → PostgreSQL", m["pg_load"], m["pg_orm_load"], "rows_per_s", "rows/s", "per-row SQLModel"),
        ]
    low, high = scale[sizes[0]], scale[sizes[-1]]
    for size in sizes:
        runs = scale[size]
        rows.append(Row(f"first refresh, {size:,} profiles", f"{fmt(spread(runs, 'seconds'), 's')}, "
                        f"{fmt(spread(runs, 'pages_per_s'), 'pages/s')}, {fmt(spread(runs, 'peak_rss_mb'), 'MiB')}"))
    per_page = [{"s": r["seconds"] / r["pages"] * 1000} for r in high]
    rows.append(compare(f"time per page, {sizes[-1]:,} vs {sizes[0]:,} profiles", per_page,
                        [{"s": r["seconds"] / r["pages"] * 1000} for r in low], "s", "ms", f"{sizes[0]:,}",
                        "<= 1.1"))
    rows.append(compare(f"peak RSS (all processes), {sizes[-1]:,} vs {sizes[0]:,} profiles", high, low, "peak_rss_mb", "MiB",
                        f"{sizes[0]:,}", "<= 1.25"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a run under 5 minutes: 200 profiles, sizes 200/2,000, "
                        "2 runs")
    parser.add_argument("--runs", type=int, help="runs of every measurement (default 3; --quick: 2)")
    parser.add_argument("--no-postgres", dest="pg", action="store_false", help="skip the PostgreSQL figures")
    args = parser.parse_args()
    args.runs = args.runs or (2 if args.quick else 3)
    profiles, sizes, load_profiles = (200, [200, 2000], 50) if args.quick else (2000, [2000, 20000], 200)
    started, load_before = time.perf_counter(), os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as workdir:
        m = measure(profiles, args.runs, load_profiles, workdir, args.pg)
        scale = scaling(sizes, args.runs, workdir, {profiles: m["first"]})
    rows = table(m, scale, sizes)
    text = markdown(rows)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"bench-{stamp}.json"
    path.write_text(json.dumps({
        "when": stamp, "machine": machine(), "load_average": {"start": load_before, "end": os.getloadavg()},
        "profiles": profiles, "runs": args.runs, "quick": args.quick,
        "seconds": round(time.perf_counter() - started, 1), "table": text,
        "targets": {f"{r.name} vs {r.yardstick.split(':')[0]}": r.met for r in rows if r.met is not None},
        "measurements": m, "scaling": {str(k): v for k, v in scale.items()},
    }, indent=1))
    print(f"\n{len([r for r in rows if r.met])}/{len([r for r in rows if r.met is not None])} targets met; "
          f"load average {load_before[0]:.1f} at start, {os.getloadavg()[0]:.1f} at end (other work on the machine "
          f"skews every figure); raw figures: {path}")


if __name__ == "__main__":
    main()
