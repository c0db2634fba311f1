"""Load time and memory of the built-in data (30,627 real designations + synthetic parts).

Each figure is taken in a fresh child process (nothing cached), ``--rounds`` times; the medians
are printed beside baselines measured in the same children:

- import: ``load_mic`` of ``mic-designations-2026.csv`` (every row validated, coverage built)
  against reading the same file with ``csv.reader`` into a list (the floor of any importer);
- the whole built-in set (``sample_parts``: blocks, operators, certifications, …) and compiling
  it into a ``MemoryStore`` (what ``sip-agent --store memory-sample`` pays at start);
- memory (tracemalloc, Python allocations) of the compiled store against a bare
  ``{block: operator}`` dict of the same file;
- the embedded Redis: publishing the whole set (as ``open_store`` does into an empty store) and
  the server's ``used_memory`` growth, against a raw pipelined HSET of the same block strings.

Usage: .venv/bin/python bench/bench_builtin_data.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = r"""
import csv, gc, json, sys, tempfile, time, tracemalloc
from pathlib import Path
out = {}
from sipcheck.sample import MIC_CSV
t = time.perf_counter()
with open(MIC_CSV, encoding="utf-8", newline="") as fh:
    rows = list(csv.reader(fh))
out["csv_read_s"] = time.perf_counter() - t
from sipcheck.importers import load_mic
t = time.perf_counter()
load_mic([MIC_CSV])
out["load_mic_s"] = time.perf_counter() - t
from sipcheck import sample
sample._build.cache_clear()
t = time.perf_counter()
parts = sample.sample_parts()
out["sample_parts_s"] = time.perf_counter() - t
from sipcheck.store import MemoryStore
t = time.perf_counter()
MemoryStore(parts)
out["memory_store_s"] = time.perf_counter() - t
gc.collect()
tracemalloc.start()
base = {r[0]: r[2] for r in rows[1:]}
out["dict_bytes"] = tracemalloc.get_traced_memory()[0]
del base
gc.collect()
tracemalloc.stop()
tracemalloc.start()
sample._build.cache_clear()
store = MemoryStore(sample.sample_parts())
gc.collect()
out["store_bytes"] = tracemalloc.get_traced_memory()[0]
tracemalloc.stop()
from sipcheck.cache import EmbeddedRedis, RedisStore
from sipcheck.settings import RedisSettings
with tempfile.TemporaryDirectory() as d, EmbeddedRedis(Path(d), persist=False) as server:
    redis_store = RedisStore(RedisSettings(url=server.url, local_snapshot=False))
    before = redis_store.memory_bytes()
    t = time.perf_counter()
    redis_store.publish(parts)
    out["redis_publish_s"] = time.perf_counter() - t
    out["redis_bytes"] = redis_store.memory_bytes() - before
    import redis
    raw = redis.Redis(host="127.0.0.1", port=server.port)
    mem0 = int(raw.info("memory")["used_memory"])
    t = time.perf_counter()
    pipe = raw.pipeline(transaction=False)
    items = [(r[0], "fixed\x1f1\x1f" + r[2]) for r in rows[1:]]
    for i in range(0, len(items), 1000):
        pipe.hset("raw", mapping=dict(items[i:i + 1000]))
    pipe.execute()
    out["raw_hset_s"] = time.perf_counter() - t
    out["raw_hset_bytes"] = int(raw.info("memory")["used_memory"]) - mem0
    raw.close()
    redis_store.close()
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    runs = []
    for _ in range(args.rounds):
        done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    def ratio(a: str, b: str) -> str:
        values = [r[a] / r[b] for r in runs]
        return f"{statistics.median(values):.1f}x (range {min(values):.1f}-{max(values):.1f})"

    mib = 1024 * 1024
    lines = [
        f"{args.rounds} fresh processes, medians",
        f"load_mic of the designation CSV : {med('load_mic_s') * 1000:7.0f} ms",
        f"  baseline csv.reader, same file: {med('csv_read_s') * 1000:7.0f} ms"
        f"  -> {ratio('load_mic_s', 'csv_read_s')}",
        f"sample_parts (every component)  : {med('sample_parts_s') * 1000:7.0f} ms",
        f"MemoryStore compile             : {med('memory_store_s') * 1000:7.0f} ms",
        f"MemoryStore memory (tracemalloc): {med('store_bytes') / mib:7.1f} MiB",
        f"  baseline {{block: operator}} dict: {med('dict_bytes') / mib:7.1f} MiB"
        f"  -> {ratio('store_bytes', 'dict_bytes')}",
        f"embedded Redis publish          : {med('redis_publish_s') * 1000:7.0f} ms,"
        f" +{med('redis_bytes') / mib:.1f} MiB",
        f"  baseline raw HSET of the blocks: {med('raw_hset_s') * 1000:7.0f} ms,"
        f" +{med('raw_hset_bytes') / mib:.1f} MiB -> time {ratio('redis_publish_s', 'raw_hset_s')},"
        f" memory {ratio('redis_bytes', 'raw_hset_bytes')}",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
