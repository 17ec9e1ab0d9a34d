"""`python -m bench.export [--rows N]`: peak memory of `ingest export` as the row count grows tenfold.

Fills a SQLite database with N synthetic papers (and the change events its triggers record), then exports
it whole in each format, each export in a fresh process so its peak RSS is its own, at N/10 and N rows.
Flat memory means the two peaks are about equal: rows stream in batches, none held for the whole export.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

from ingest.store import bulk, make_engine
from ingest.store.load import _PAPER_COLUMNS, PAPERS

EXPORT = """
import sys, time
from pathlib import Path
from ingest.export import export
from ingest.store import make_engine
start = time.perf_counter()
manifest = export(make_engine(sys.argv[1], create=False), Path(sys.argv[2]), sys.argv[3])
print(manifest.files["paper"]["rows"], round(time.perf_counter() - start, 2))
"""


def fill(url: str, rows: int) -> None:
    engine = make_engine(url)
    seen = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with engine.begin() as conn:
        for start in range(0, rows, 50_000):
            batch = [(f"Synthetic paper {i} on the scaling of things", 2000 + i % 25, date(2000 + i % 25, 1 + i % 12, 1),
                      [f"A. Author{i % 97}", f"B. Author{i % 89}"], i % 3 == 0, "An abstract " * 20,
                      f"{2000 + i % 25}.{i:05d}" if i % 2 else None, None, {"scholarfeed": {"category": "LG"}},
                      f"synthetic paper {i} on the scaling of things|{2000 + i % 25}", seen)
                     for i in range(start, min(rows, start + 50_000))]
            bulk.insert_many(conn, PAPERS, _PAPER_COLUMNS, batch)
    engine.dispose()


def export_peak(url: str, out: Path, fmt: str) -> tuple[int, float, float]:
    """(rows, seconds, peak RSS in MiB) of one export in its own process."""
    child = subprocess.Popen([sys.executable, "-c", EXPORT, url, str(out), fmt], stdout=subprocess.PIPE, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not the largest child's so far
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"export ({fmt}) failed with exit status {child.returncode}")
    rows, seconds = output.split()
    return int(rows), float(seconds), usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.export", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ingest-bench-export-") as workdir:
        print("| format | rows | seconds | rows/s | peak RSS |\n|---|---|---|---|---|")
        for rows in (args.rows // 10, args.rows):
            url = f"sqlite:///{workdir}/export-{rows}.db"
            started = time.perf_counter()
            fill(url, rows)
            print(f"(filled {rows:,} papers in {time.perf_counter() - started:.1f} s)", file=sys.stderr)
            for fmt in ("jsonl", "csv", "parquet"):
                exported, seconds, peak = export_peak(url, Path(workdir) / f"{fmt}-{rows}", fmt)
                print(f"| {fmt} | {exported:,} | {seconds:.1f} | {exported / seconds:,.0f} | {peak:.0f} MiB |",
                      flush=True)


if __name__ == "__main__":
    main()
