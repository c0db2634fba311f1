"""Load 50,000 blocks and 1,000,000 suspensions; then reload everything while 64 callers check.

Figures: load time (target <= 15 s) and Redis memory; during the reload, checks answered, failed
(fail-policy answers) and mixed-version answers (target: zero and zero). Baseline in the same run:
the time Redis itself needs to take the same suspensions as raw pipelined HSETs, without
versioning, encoding or the operator resolution.

Data sets A and B differ everywhere a check can see it: every block's operator (certified in A,
revoked in B) and which numbers are suspended, so an answer mixing versions shows.

Usage: .venv/bin/python bench/bench_cache_load.py [--suspensions 1000000] [--blocks 50000]
Machine: 2 cores shared with other work; figures are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).parent))
from bench_cache_common import dataset, number_in, settings

from sipcheck.cache import EmbeddedRedis, RedisStore
from sipcheck.model import Block, Component
from sipcheck.numbers import parse_number


def callers(url: str, numbers: list[str], concurrency: int, ready: Any, stop: Any, out: Any) -> None:
    """Child process: ``concurrency`` async callers check until told to stop; report counts."""
    store = RedisStore(settings(url, local_snapshot=False))
    parsed = [parse_number(n) for n in numbers]
    counts = {"checks": 0, "failed": 0, "mixed": 0, "versions": set()}

    def consistent(facts: Any) -> bool:
        flavour = "a" if int(facts.data_version) % 2 == 1 else "b"
        e164 = facts.number.e164
        if e164.startswith("+81900"):  # suspended in A when even, in B when odd
            suspended = (int(e164[5:]) % 2 == 0) == (flavour == "a")
            if (facts.suspension is not None) != suspended:
                return False
        if facts.designated is not None:
            if not facts.designated.id.startswith(flavour + "op"):
                return False
            cert = facts.designated.certification
            want = "certified" if flavour == "a" else "revoked"
            if cert is None or cert.status.value != want:
                return False
        return True

    async def worker(w: int) -> None:
        i = w
        while not stop.is_set():
            facts = await store.alookup(parsed[i % len(parsed)], None, "bench")
            i += concurrency
            counts["checks"] += 1
            if not facts.available:
                counts["failed"] += 1
                await asyncio.sleep(0)  # an open breaker answers without awaiting: let others run
                continue
            counts["versions"].add(facts.data_version)
            if not consistent(facts):
                counts["mixed"] += 1

    async def main() -> None:
        await store.awarm()
        ready.set()
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        await store.aclose()

    asyncio.run(main())
    counts["versions"] = sorted(counts["versions"])
    counts["timeouts"] = store.metrics.timeouts
    counts["errors"] = store.metrics.errors
    out.put(counts)
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=50_000)
    parser.add_argument("--suspensions", type=int, default=1_000_000)
    parser.add_argument("--callers", type=int, default=64)
    parser.add_argument(
        "--nice", type=int, default=0, help="run the loading process at this nice level (a batch job)"
    )
    args = parser.parse_args()
    t = time.perf_counter()
    a = dataset(args.blocks, args.suspensions, flavour="a")
    b = dataset(args.blocks, args.suspensions, flavour="b")
    print(
        f"generated two data sets of {args.blocks} blocks + {args.suspensions} suspensions "
        f"in {time.perf_counter() - t:.1f} s (not counted)"
    )
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp), persist=False) as server:
        raw = redis.Redis(port=server.port)
        base_mem = int(raw.info("memory")["used_memory"])
        # Baseline: the same suspensions as plain pipelined HSETs into one hash.
        t = time.perf_counter()
        pipe = raw.pipeline(transaction=False)
        chunk: dict[str, str] = {}
        for s in a[Component.SUSPENSIONS].records:
            chunk[s.number] = ""  # type: ignore[union-attr]
            if len(chunk) >= 5000:
                pipe.hset("baseline", mapping=chunk)  # type: ignore[arg-type]
                chunk = {}
                if len(pipe) >= 8:
                    pipe.execute()
        if chunk:
            pipe.hset("baseline", mapping=chunk)  # type: ignore[arg-type]
        pipe.execute()
        raw_s = time.perf_counter() - t
        raw_mem = int(raw.info("memory")["used_memory"]) - base_mem
        raw.delete("baseline")

        store = RedisStore(settings(server.url, local_snapshot=False, gc_grace_ms=0))
        mem0 = store.memory_bytes()
        t = time.perf_counter()
        v1 = store.publish(a)
        load_s = time.perf_counter() - t
        mem1 = store.memory_bytes()
        print(f"load v{v1}: {load_s:.1f} s (target <= 15 s); Redis memory +{(mem1 - mem0) / 2**20:.0f} MiB")
        print(
            f"baseline raw HSET of the suspensions alone: {raw_s:.1f} s, {raw_mem / 2**20:.0f} MiB "
            f"(load/baseline time {load_s / raw_s:.1f}x)"
        )

        blocks = [r for r in a[Component.BLOCKS].records if isinstance(r, Block)]
        numbers = [number_in(r.prefix) for r in blocks[:: max(1, len(blocks) // 500)]]
        numbers += [f"090{i:08d}" for i in range(0, 2000, 7)]  # suspended in A (even) or B (odd)
        ctx = multiprocessing.get_context("spawn")
        ready, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
        child = ctx.Process(target=callers, args=(server.url, numbers, args.callers, ready, stop, out))
        child.start()
        if not ready.wait(60):
            raise SystemExit("callers did not start")
        time.sleep(1.0)  # callers run on the old version for a while first
        if args.nice:
            os.nice(args.nice)  # the callers' process keeps its priority
        t = time.perf_counter()
        v2 = store.publish(b)
        reload_s = time.perf_counter() - t
        mem2 = store.memory_bytes()
        time.sleep(1.0)  # and on the new one afterwards
        stop.set()
        counts = out.get(timeout=60)
        child.join(30)
        mem3 = store.memory_bytes()
        print(
            f"full reload v{v2} under {args.callers} callers: {reload_s:.1f} s; "
            f"Redis memory right after the switch +{(mem2 - mem0) / 2**20:.0f} MiB (both versions), "
            f"about 1 s later +{(mem3 - mem0) / 2**20:.0f} MiB (old version freed)"
        )
        print(
            f"checks during reload run: {counts['checks']}, failed {counts['failed']}, "
            f"mixed-version {counts['mixed']}, versions seen {counts['versions']}, "
            f"timeouts {counts['timeouts']}, errors {counts['errors']}"
        )
        store.close()


if __name__ == "__main__":
    main()
