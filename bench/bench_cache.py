"""Redis-backed checks per second at 1, 8 and 64 concurrent callers, beside the raw server rate.

For each concurrency: full screening checks (`Screener.acheck`: parse, lookup, facts, verdict)
through `RedisStore` without the local snapshot, with it (suspensions asked of Redis), and with
local reads (the default: no round trip while the snapshot is in step), and as the baseline the same server
answering the lookup script called raw with one number (redis.asyncio EVALSHA of LOOKUP_MANY with a
one-record batch per operation, no decoding: what a check cost before the coalescing) and
a plain GET, in the same run and the same process. `alookup` coalesces concurrent checks into one
LOOKUP_MANY call per event-loop iteration, so above 1 caller the checks can beat the raw per-call
rate (ratio > 100 %). Target: checks >= 50 % of the raw script rate at 64 callers. Prints
`hiredis` when redis-py uses it (install it: it is a dependency).

Usage: .venv/bin/python bench/bench_cache.py [--seconds 2] [--suspensions 100000]
The machine has 2 cores shared with other work: figures are noisy; compare ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import redis.asyncio

sys.path.insert(0, str(Path(__file__).parent))
from bench_cache_common import dataset, number_in, settings

from sipcheck.cache import EmbeddedRedis, RedisStore
from sipcheck.cache.keys import KeySpace
from sipcheck.cache.scripts import LOOKUP_MANY
from sipcheck.model import Block, Component
from sipcheck.numbers import parse_number
from sipcheck.screener import Screener
from sipcheck.verdict import Reason


async def rate(concurrency: int, seconds: float, op: Callable[[int], Awaitable[object]]) -> float:
    """Answers per second; an op returning False (a fail-policy answer, not Redis's) does not count."""
    stop = time.perf_counter() + seconds
    done = 0

    async def worker(w: int) -> None:
        nonlocal done
        i = w
        while time.perf_counter() < stop:
            ok = await op(i)
            i += concurrency
            if ok is not False:
                done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return done / (time.perf_counter() - start)


async def run(url: str, numbers: list[str], seconds: float) -> None:
    keys = KeySpace.of("sipcheck")
    raw_client = redis.asyncio.Redis.from_url(url, decode_responses=True, max_connections=64)
    raw_script = raw_client.register_script(LOOKUP_MANY)
    parsed = [parse_number(n) for n in numbers]
    raw_args = [[keys.prefix, "", f"{p.block}\x1f{p.national}\x1f{p.e164}\x1f=10.0.0.1"] for p in parsed]
    stores = {
        "script": RedisStore(settings(url, local_snapshot=False)),
        "snapshot": RedisStore(settings(url, local_snapshot=True, local_reads=False)),
        "local": RedisStore(settings(url, local_snapshot=True, local_reads=True)),
    }
    snap = stores["snapshot"].snapshot
    assert snap is not None
    state = snap.state
    assert state is not None
    screeners = {name: Screener(store) for name, store in stores.items()}
    n = len(numbers)

    async def raw_eval(i: int) -> object:
        return await raw_script(keys=[keys.live], args=raw_args[i % n])

    async def raw_get(i: int) -> object:
        return await raw_client.get(keys.live)

    def check(name: str) -> Callable[[int], Awaitable[object]]:
        screener = screeners[name]

        async def op(i: int) -> object:
            verdict = await screener.acheck(numbers[i % n], "10.0.0.1")
            return Reason.DATA_UNAVAILABLE not in verdict.reasons

        return op

    for store in stores.values():
        await store.awarm()  # what a server does at start-up
    local = stores["local"].snapshot
    assert local is not None and await asyncio.to_thread(local.wait_local, 30), "local reads never started"
    # Warm up every path (script load, pools).
    for op in (raw_eval, raw_get, check("script"), check("snapshot"), check("local")):
        await rate(8, 0.3, op)
    print(
        f"{'callers':>7} {'raw GET/s':>10} {'raw EVALSHA/s':>14} {'checks/s':>9} {'ratio':>6} "
        f"{'snapshot checks/s':>18} {'ratio':>6} {'local checks/s':>15} {'ratio':>6}"
    )
    for concurrency in (1, 8, 64):
        get = await rate(concurrency, seconds, raw_get)
        ev = await rate(concurrency, seconds, raw_eval)
        scr = await rate(concurrency, seconds, check("script"))
        snp = await rate(concurrency, seconds, check("snapshot"))
        loc = await rate(concurrency, seconds, check("local"))
        print(
            f"{concurrency:>7} {get:>10.0f} {ev:>14.0f} {scr:>9.0f} {scr / ev:>6.0%} "
            f"{snp:>18.0f} {snp / ev:>6.0%} {loc:>15.0f} {loc / ev:>6.0%}"
        )
    for name, store in stores.items():
        m = store.metrics
        print(
            f"{name}: lookups={m.lookups} local answers={m.local_answers} round trips={m.batches} "
            f"errors={m.errors} timeouts={m.timeouts} "
            f"fail-policy answers={m.unavailable_answers} breaker opens={m.breaker_opens}"
        )
        await store.aclose()
        store.close()
    await raw_client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--suspensions", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp), persist=False) as server:
        parts = dataset(blocks=50_000, suspensions=args.suspensions)
        loader = RedisStore(settings(server.url, local_snapshot=False))
        loader.publish(parts)
        loader.close()
        blocks = [b for b in parts[Component.BLOCKS].records if isinstance(b, Block)]
        numbers = [number_in(b.prefix) for b in blocks[::50]]
        from redis.utils import HIREDIS_AVAILABLE

        print(
            f"redis-server {server.binary or 'system'} on port {server.port}; "
            f"parser {'hiredis' if HIREDIS_AVAILABLE else 'python (no hiredis)'}; "
            f"{len(numbers)} distinct numbers; "
            f"{args.seconds:.1f} s per cell; asyncio, one process"
        )
        asyncio.run(run(server.url, numbers, args.seconds))


if __name__ == "__main__":
    main()
