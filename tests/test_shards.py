"""Shards: disjoint, covering, balanced, and the same in every process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ingest.shards import WHOLE, Shard, stable_hash

URLS = [f"https://scholar.example/author/{n}" for n in range(2000)]


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_the_shards_of_a_list_are_disjoint_and_cover_it_in_order(count):
    parts = [Shard(i, count).select(URLS) for i in range(1, count + 1)]
    assert sorted(url for part in parts for url in part) == sorted(URLS)
    assert sum(len(part) for part in parts) == len(URLS)
    for part in parts:
        assert part == [url for url in URLS if url in set(part)]


def test_shards_are_about_equal():
    sizes = [len(Shard(i, 4).select(URLS)) for i in range(1, 5)]
    assert all(400 < size < 600 for size in sizes), sizes


def test_the_whole_list_is_one_shard():
    assert WHOLE.select(URLS) == URLS


def test_the_hash_is_the_same_in_another_process_with_another_hash_seed():
    code = "import sys; from ingest.shards import stable_hash; print(stable_hash(sys.argv[1]))"
    url = URLS[7]
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, check=True,
                             env=os.environ | {"PYTHONHASHSEED": seed}).stdout
        assert int(out) == stable_hash(url)
    assert 0 <= stable_hash(url) < 2**64


@pytest.mark.parametrize(("text", "shard"), [("1/1", Shard(1, 1)), ("2/4", Shard(2, 4)), ("4/4", Shard(4, 4))])
def test_parse_reads_i_of_k_and_prints_it_back(text, shard):
    assert Shard.parse(text) == shard and str(shard) == text


@pytest.mark.parametrize("text", ["0/4", "5/4", "2", "2/", "/4", "a/b", "1/0", "-1/2"])
def test_parse_refuses_what_is_not_a_shard(text):
    with pytest.raises(ValueError, match="1 <= SHARD <= SHARDS"):
        Shard.parse(text)
