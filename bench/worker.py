"""`python -m bench.worker JOB < ARGS_JSON`: run one measurement in this fresh process, print its result as JSON.

The result's last line on stdout is the JSON; it carries the peak RSS of this process and its worker
processes together (sampled every 20 ms: what the job costs the machine, whatever its process layout)
and this process's own peak.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import itertools
import json
import resource
import sys
import threading

import psutil

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


class PeakRss(threading.Thread):
    """The largest sum of RSS over this process and its descendants, sampled until `stop()`. The process
    list is re-read every `relist` samples only: listing costs a millisecond, a sample microseconds."""

    def __init__(self, interval_s: float = 0.02, relist: int = 25) -> None:
        super().__init__(daemon=True)
        self.interval_s, self.relist, self.peak, self._finished = interval_s, relist, 0, threading.Event()

    def run(self) -> None:
        me, processes = psutil.Process(), []
        for sample in itertools.count():
            if self._finished.wait(self.interval_s):
                return
            if sample % self.relist == 0:
                processes = [me, *me.children(recursive=True)]
            total = 0
            for process in processes:
                try:
                    total += process.memory_info().rss
                except psutil.NoSuchProcess:  # a worker that ended since the listing
                    pass
            self.peak = max(self.peak, total)

    def stop(self) -> int:
        self._finished.set()
        self.join()
        return self.peak


def main() -> None:
    job, args = sys.argv[1], json.loads(sys.stdin.read())
    module, name = JOBS[job].split(":")
    function = getattr(importlib.import_module(module), name)
    sampler = PeakRss()
    sampler.start()
    result = asyncio.run(function(**args)) if inspect.iscoroutinefunction(function) else function(**args)
    kib = 1024  # ru_maxrss is in KiB on Linux
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * kib
    result["peak_rss_mb"] = round(max(sampler.stop(), own) / 2**20, 1)
    result["own_peak_rss_mb"] = round(own / 2**20, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
