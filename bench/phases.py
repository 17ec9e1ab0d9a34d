"""Extraction alone, in-process on rendered pages: ours vs a bare selectolax parse vs BeautifulSoup."""

from __future__ import annotations

import time

from bs4 import BeautifulSoup
from selectolax.lexbor import LexborHTMLParser

from bench.sample import SOURCE, pages
from ingest.site.corpus import Corpus

extract = SOURCE.extract


def _us_per_page(parse, sample: list[tuple[str, bytes]], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):  # the best pass: the least disturbed by anything else on the machine
        started = time.process_time()
        for origin, body in sample:
            parse(body, origin)
        best = min(best, (time.process_time() - started) / len(sample))
    return round(best * 1e6, 1)


def extraction(profiles: int, corpus_profiles: int, repeat: int = 3) -> dict:
    """µs of CPU per page, on the first page of `profiles` generated profiles (warmed up first)."""
    sample = pages(Corpus(corpus_profiles), profiles)
    for origin, body in sample[:20]:
        extract(body, origin)
    return {
        "pages": len(sample),
        "kib_per_page": round(sum(len(b) for _, b in sample) / len(sample) / 1024, 1),
        "cards_per_page": round(sum(len(extract(b, o).papers) for o, b in sample) / len(sample), 1),
        "ours_us": _us_per_page(extract, sample, repeat),
        "selectolax_us": _us_per_page(lambda body, _: LexborHTMLParser(body), sample, repeat),
        # BeautifulSoup with its default parser, the one a newcomer reaches for; a tenth of the pages (slow)
        "bs4_us": _us_per_page(lambda body, _: BeautifulSoup(body, "html.parser"),
                               sample[: max(5, len(sample) // 10)], 1),
    }
