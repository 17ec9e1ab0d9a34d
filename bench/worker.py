"""`python -m bench.worker JOB < ARGS_JSON`: run one measurement in this fresh process, print its result as JSON.

The result's last line on stdout is the JSON; it carries the process's own peak RSS (and its children's,
for jobs that start a process pool).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import resource
import sys

# job name -> "module:function"; each function takes the ARGS_JSON object's keys and returns a dict
JOBS = {
    "ceiling": "bench.baselines:server_ceiling",
    "bare_fetch_parse": "bench.baselines:bare_fetch_parse",
    "bare_conditional": "bench.baselines:bare_conditional",
    "bare_fetch": "bench.baselines:bare_fetch",
    "orm_load": "bench.baselines:orm_load",
    "extract": "bench.phases:extraction",
    "fetch": "bench.ours:fetch",
    "load": "bench.ours:load",
    "refresh": "bench.ours:refresh",
    "flow": "bench.ours:flow",
    "scrapy": "bench.scrapy_peer:crawl",
}


def main() -> None:
    job, args = sys.argv[1], json.loads(sys.stdin.read())
    module, name = JOBS[job].split(":")
    function = getattr(importlib.import_module(module), name)
    result = asyncio.run(function(**args)) if inspect.iscoroutinefunction(function) else function(**args)
    kib = 1024  # ru_maxrss is in KiB on Linux
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * kib / 2**20, 1)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if children:
        result["children_peak_rss_mb"] = round(children * kib / 2**20, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
