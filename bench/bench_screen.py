"""Checks per second through `Screener.check` on one core (target: ≥ 200,000 checks/s).

Data: the built-in data set (`sipcheck.sample`: the real designations of every range MIC
designates, 30,627 blocks, + synthetic certifications, suspensions, trunks, wholesale) in a
`MemoryStore`; ``--synthetic`` uses the synthetic reshaping of the same blocks (certifications
in every status, 5,000 suspensions, wholesale at every length). Numbers: `mixed_numbers` (mostly plain
national numbers in designated blocks, some E.164, decorated, undesignated,
invalid, suspended and foreign), drawn from a pool of ``--pool`` distinct
callers, as a trunk sees repeat callers; ``--pool 0`` makes every number distinct
(the parser's cache never hits).

Baseline, same run, same numbers: a bare ``dict.get`` loop (a number -> verdict
table), the floor of any per-call Python screen. ``--profile`` prints where the
time goes (cProfile, tottime).

Figures are wall-clock on a shared 2-core machine with other work running:
expect ±20 % noise; compare the ratio, not the absolute rate.
Usage: .venv/bin/python bench/bench_screen.py [--checks N] [--pool N] [--synthetic] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from sipcheck.batch.synthetic import mixed_numbers, sample_or_synthetic_parts, synthetic_parts
from sipcheck.model import Block, Component
from sipcheck.numbers import parse_number_cached
from sipcheck.policy import PolicyConfig
from sipcheck.screener import Screener
from sipcheck.store import MemoryStore


def best_of(runs: int, fn: Callable[[], None]) -> tuple[float, float]:
    """(best wall seconds, best CPU seconds of this process); CPU time is immune to busy neighbours."""
    wall, cpu = float("inf"), float("inf")
    for _ in range(runs):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--checks", type=int, default=300_000)
    ap.add_argument("--pool", type=int, default=50_000, help="distinct callers (0: all distinct)")
    ap.add_argument("--synthetic", action="store_true", help="the larger synthetic data set")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument(
        "--ranges",
        default="",
        help="keep only the blocks of these designation ranges (e.g. 050,0120,0800: the shape of the "
        "built-in data before it covered every range), to tell a data-size effect from a code effect",
    )
    args = ap.parse_args()

    if args.synthetic:
        parts, label = synthetic_parts(), "synthetic"
    else:
        parts, label = sample_or_synthetic_parts()
    if args.ranges:
        keep = tuple(args.ranges.split(","))
        blocks = parts[Component.BLOCKS]
        kept = tuple(r for r in blocks.records if isinstance(r, Block) and r.prefix.startswith(keep))
        parts[Component.BLOCKS] = replace(blocks, records=kept)
        label += f" (blocks of {args.ranges} only)"
    store = MemoryStore(parts)
    screener = Screener(store, PolicyConfig())
    now = datetime(2026, 8, 1, 3, tzinfo=UTC)  # sipcheck.sample.SAMPLE_DAY
    if args.pool:
        pool = mixed_numbers(parts, args.pool, seed=1)
        rng = random.Random(2)
        numbers = [rng.choice(pool) for _ in range(args.checks)]
    else:
        numbers = mixed_numbers(parts, args.checks, seed=1)
    distinct = len(set(numbers))
    print(f"data: {label} ({', '.join(f'{c.value} {len(p.records)}' for c, p in parts.items())})")
    print(f"numbers: {len(numbers):,} checks, {distinct:,} distinct callers")

    check = screener.check

    def screen() -> None:
        for n in numbers:
            check(n, None, now=now)

    # Baseline: a precomputed number -> verdict dict, looked up per call.
    table = {n: i for i, n in enumerate(set(numbers))}
    get = table.get

    def baseline() -> None:
        for n in numbers:
            get(n)

    parse_number_cached.cache_clear()
    cold_wall, cold_cpu = best_of(1, screen)  # first pass: parser cache cold
    wall, cpu = best_of(3, screen)
    base_wall, base_cpu = best_of(3, baseline)
    n = len(numbers)
    print(f"Screener.check   : {n / wall:>12,.0f} checks/s wall, {n / cpu:>12,.0f}/s CPU (warm parser cache)")
    print(f"  first pass     : {n / cold_wall:>12,.0f} checks/s wall, {n / cold_cpu:>12,.0f}/s CPU (cold)")
    print(f"baseline dict.get: {n / base_wall:>12,.0f} lookups/s wall, {n / base_cpu:>12,.0f}/s CPU")
    print(f"ratio            : a check costs {cpu / base_cpu:.0f}x a dict lookup (CPU)")
    print(f"target 200,000/s : {'met' if n / cpu >= 200_000 else 'NOT met'} (CPU, warm)")

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        screen()
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(14)
        print(out.getvalue())


if __name__ == "__main__":
    main()
