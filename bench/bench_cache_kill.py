"""Kill Redis (SIGKILL) under load, bring it back, and watch the checks.

64 async callers check continuously in a child process through `Screener.acheck` with the
default settings (50 ms budget). The parent kills the server, waits, restarts it on the same
port and data directory (AOF), and the child reports: the slowest check (target: within the
budget), how many verdicts during the outage were the configured fail-policy verdict (target:
all), and how long after the server was back the first real answer came (target: < 2 s, no
restart of anything). Baseline in the same run: the slowest check while Redis was healthy.

Usage: .venv/bin/python bench/bench_cache_kill.py [--fail-policy open|closed|snapshot] [--local-reads]

With ``--local-reads`` (the service's default) checks are answered from process memory until the
snapshot has not heard from Redis for the sync timeout (1 s), and only then meet the fail policy.
Machine: 2 cores shared with other work; figures are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_cache_common import dataset, number_in, settings

from sipcheck.cache import EmbeddedRedis, RedisStore
from sipcheck.model import Block, Component
from sipcheck.policy import PolicyConfig
from sipcheck.screener import Screener
from sipcheck.verdict import Action, Reason

EXPECTED = {
    "open": (Action.FLAG, Reason.DATA_UNAVAILABLE),
    "closed": (Action.BLOCK, Reason.DATA_UNAVAILABLE),
    "snapshot": (None, Reason.DATA_FROM_SNAPSHOT),
}


def callers(
    url: str, numbers: list[str], fail_policy: str, local_reads: bool, ready: Any, stop: Any, out: Any
) -> None:
    redis_settings = settings(
        url, local_snapshot=local_reads or fail_policy == "snapshot", local_reads=local_reads
    )
    store = RedisStore(redis_settings, fail_policy=fail_policy)  # type: ignore[arg-type]
    screener = Screener(store, PolicyConfig(fail_policy=fail_policy))  # type: ignore[arg-type]
    budget = redis_settings.check_budget_ms / 1000
    want_action, want_reason = EXPECTED[fail_policy]
    r: dict[str, Any] = {
        "checks": 0,
        "real": 0,
        "policy": 0,
        "wrong": 0,
        "over_budget_real": 0,
        "over_budget_policy": 0,
        "max_healthy": 0.0,
        "max_outage": 0.0,
        "max_healthy_at": 0.0,  # wall-clock time the slowest real answer ended
        "events": [],  # (time, real?) at each change between real and fail-policy answers
    }
    last_real: list[bool | None] = [None]

    async def worker(w: int) -> None:
        i = w
        while not stop.is_set():
            start = time.perf_counter()
            verdict = await screener.acheck(numbers[i % len(numbers)], None)
            elapsed = time.perf_counter() - start
            i += 64
            r["checks"] += 1
            real = want_reason not in verdict.reasons
            if real:
                r["real"] += 1
                if elapsed > r["max_healthy"]:
                    r["max_healthy"], r["max_healthy_at"] = elapsed, time.time()
            else:
                r["policy"] += 1
                r["max_outage"] = max(r["max_outage"], elapsed)
                if want_action is not None and verdict.action is not want_action:
                    r["wrong"] += 1
            if elapsed > budget + 0.005:
                r["over_budget_real" if real else "over_budget_policy"] += 1
            if real != last_real[0]:
                last_real[0] = real
                r["events"].append((time.time(), real))
            # A local read or an open breaker answers without suspending: let the other callers run
            # (each request of a server is its own task; these loops are not).
            await asyncio.sleep(0)

    async def main() -> None:
        await store.awarm()
        ready.set()
        await asyncio.gather(*(worker(w) for w in range(64)))
        await store.aclose()

    asyncio.run(main())
    m = store.metrics
    r["metrics"] = m.to_dict()
    out.put(r)
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fail-policy", choices=sorted(EXPECTED), default="open")
    parser.add_argument("--outage", type=float, default=3.0)
    parser.add_argument(
        "--local-reads",
        action="store_true",
        help="the service's default: answer from the in-step snapshot (else every check asks Redis)",
    )
    args = parser.parse_args()
    parts = dataset(50_000, 100_000)
    blocks = [r for r in parts[Component.BLOCKS].records if isinstance(r, Block)]
    numbers = [number_in(r.prefix) for r in blocks[::100]]
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp), persist=True).start()
        loader = RedisStore(settings(server.url, local_snapshot=False))
        loader.publish(parts)
        loader.close()
        ctx = multiprocessing.get_context("spawn")
        ready, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
        child = ctx.Process(
            target=callers, args=(server.url, numbers, args.fail_policy, args.local_reads, ready, stop, out)
        )
        child.start()
        if not ready.wait(60):
            raise SystemExit("callers did not start")
        time.sleep(2.0)  # healthy period: the baseline
        killed_at = time.time()
        server.kill()
        time.sleep(args.outage)
        server.start()  # same port, same data directory: the AOF brings the data back
        back_at = time.time()
        time.sleep(3.0)
        stop.set()
        r = out.get(timeout=60)
        child.join(30)
        server.stop()
    first_real = next((t for t, real in r["events"] if real and t > back_at), None)
    recovery = f"{first_real - back_at:.2f} s" if first_real else "never"
    first_policy = next((t for t, real in r["events"] if not real and t > killed_at), None)
    reads = "local reads (sync timeout 1 s)" if args.local_reads else "every check asks Redis"
    print(
        f"fail policy {args.fail_policy}; outage {args.outage:.1f} s; "
        f"64 callers, default settings (50 ms budget); {reads}"
    )
    if first_policy is not None:
        print(f"first fail-policy answer {first_policy - killed_at:.2f} s after the kill")
    print(
        f"checks {r['checks']}: real answers {r['real']}, fail-policy answers {r['policy']}, "
        f"wrong verdicts {r['wrong']}"
    )
    print(
        f"checks over budget+5 ms: real answers {r['over_budget_real']}, "
        f"fail-policy answers {r['over_budget_policy']}"
    )
    print(
        f"slowest check: healthy {r['max_healthy'] * 1000:.1f} ms (baseline; ended at "
        f"{r['max_healthy_at'] - killed_at:+.1f} s from the kill), "
        f"during outage {r['max_outage'] * 1000:.1f} ms"
    )
    print(
        f"first real answer {recovery} after the server was back (killed at +0, back at "
        f"+{back_at - killed_at:.1f} s)"
    )
    print(f"metrics: {r['metrics']}")


if __name__ == "__main__":
    main()
