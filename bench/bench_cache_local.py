"""How fast a suspension reaches other processes' local reads, beside Redis pub/sub's own delivery.

With local reads (the default) a check asks Redis nothing while the process's snapshot is in step;
a suspension reaches it as a pub/sub delta. This measures, for suspensions added one at a time by
a writer process: the time from the start of ``add_suspensions`` in the writer to the moment a
reader process's ``lookup`` (polling every 0.1 ms, answered locally) first shows the number
suspended. Baseline in the same run: a plain redis-py subscriber in another process receiving a
message published the same way (the transport's own delay). Readers check that every answer they
gave was local (no round trip).

Usage: .venv/bin/python bench/bench_cache_local.py [--changes 300] [--readers 2]
Machine: 2 cores shared with other work; figures are noisy.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).parent))
from bench_cache_common import dataset, settings

from sipcheck.cache import EmbeddedRedis, RedisStore
from sipcheck.model import Suspension
from sipcheck.numbers import parse_number

CHANNEL = "bench-local-baseline"
POLL_S = 0.0001


def local_reader(url: str, numbers: list[str], ready: Any, out: Any) -> None:
    store = RedisStore(settings(url, local_snapshot=True, local_reads=True))
    assert store.snapshot is not None
    if not store.snapshot.wait_local(60):
        raise SystemExit("local reads never started")
    parsed = [parse_number(n) for n in numbers]
    seen: list[float] = []
    ready.set()
    for number in parsed:
        while store.lookup(number, None, "bench").suspension is None:
            time.sleep(POLL_S)
        seen.append(time.monotonic())
    m = store.metrics
    out.put({"seen": seen, "local": m.local_answers, "lookups": m.lookups})
    store.close()


def pubsub_reader(url: str, count: int, ready: Any, out: Any) -> None:
    client = redis.Redis.from_url(url, decode_responses=True)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANNEL)
    while pubsub.get_message(timeout=0.1) is not None:
        pass
    seen: list[float] = []
    ready.set()
    while len(seen) < count:
        message = pubsub.get_message(timeout=5)
        if message is not None:
            seen.append(time.monotonic())
    out.put({"seen": seen})
    client.close()


def _stats(delays: list[float]) -> str:
    ms = sorted(d * 1000 for d in delays)
    p = statistics.quantiles(ms, n=100)
    return f"p50 {p[49]:.2f} ms, p90 {p[89]:.2f} ms, p99 {p[98]:.2f} ms, max {ms[-1]:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=300)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--suspensions", type=int, default=100_000)
    args = parser.parse_args()
    numbers = [f"+8150{9000_0000 + i:08d}"[:13] for i in range(args.changes)]
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp), persist=False) as server:
        writer = RedisStore(settings(server.url, local_snapshot=False))
        writer.publish(dataset(blocks=50_000, suspensions=args.suspensions))

        out = ctx.Queue()
        readys = [ctx.Event() for _ in range(args.readers)]
        procs = [ctx.Process(target=local_reader, args=(server.url, numbers, ready, out)) for ready in readys]
        for p in procs:
            p.start()
        for ready in readys:
            if not ready.wait(120):
                raise SystemExit("a reader did not start")
        written: list[float] = []
        costs: list[float] = []
        for n in numbers:
            time.sleep(0.01)
            start = time.monotonic()
            writer.add_suspensions([Suspension(n)])
            written.append(start)
            costs.append(time.monotonic() - start)
        results = [out.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(30)

        base_ready = ctx.Event()
        base = ctx.Process(target=pubsub_reader, args=(server.url, args.changes, base_ready, out))
        base.start()
        if not base_ready.wait(60):
            raise SystemExit("the baseline subscriber did not start")
        client = redis.Redis.from_url(server.url)
        sent: list[float] = []
        for i in range(args.changes):
            time.sleep(0.01)
            sent.append(time.monotonic())
            client.publish(CHANNEL, str(i))
        baseline = out.get(timeout=60)
        base.join(30)
        client.close()
        writer.close()

    local_delays = [s - w for r in results for s, w in zip(r["seen"], written, strict=True)]
    base_delays = [s - w for s, w in zip(baseline["seen"], sent, strict=True)]
    answers = sum(r["lookups"] for r in results)
    local = sum(r["local"] for r in results)
    print(
        f"{args.changes} suspensions added one at a time; {args.readers} reader processes with local reads; "
        f"data: 50,000 blocks + {args.suspensions:,} suspensions; polling every {POLL_S * 1000:.1f} ms"
    )
    print(f"the writer's add_suspensions call (one round trip): {_stats(costs)}")
    print(f"suspension visible in other processes' local reads: {_stats(local_delays)}")
    print(f"baseline, raw PUBLISH -> subscriber in another process: {_stats(base_delays)}")
    print(
        f"ratio (p50): {statistics.median(local_delays) / statistics.median(base_delays):.1f}x the raw "
        f"pub/sub delivery; reader answers {answers:,}, of them local {local:,}"
    )


if __name__ == "__main__":
    main()
