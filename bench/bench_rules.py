"""Rules at scale: check throughput with 10,000 range suspensions + 10,000 overrides, and how fast a
stock suspension takes effect compared with a single-number suspension.

1. Throughput (target: within 10 % of no rules). `Screener.check` over the built-in data
   (`MemoryStore`) on a pool of mixed callers, with no rules (the baseline) and with 10,000 range
   suspensions inside designated blocks and 10,000 overrides (numbers and prefixes), runs
   interleaved A/B so drift hits both; the median ratio is the figure.
2. Effect (target: a stock suspension as fast as one number). A real Redis (`EmbeddedRedis`) and
   reader stores of each kind (script only, snapshot + script, local reads): time from the start of
   the change until every reader's next check shows it, for one suspended number (the baseline) and
   for a stock suspension of the operator with the most blocks (over 1,000), median of the trials.

Usage: .venv/bin/python bench/bench_rules.py [--checks N] [--trials N]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sipcheck.batch.synthetic import mixed_numbers
from sipcheck.cache import EmbeddedRedis, RedisStore
from sipcheck.model import Component, Part, Rule, RuleAction, Suspension
from sipcheck.numbers import parse_number, prefix_rule
from sipcheck.policy import PolicyConfig
from sipcheck.rules import make_rule
from sipcheck.sample import sample_parts
from sipcheck.screener import Screener
from sipcheck.settings import RedisSettings
from sipcheck.store import MemoryStore

NOW = datetime(2026, 8, 1, 3, tzinfo=UTC)
ROUNDS = 12


def _width(block: str) -> int:
    """National length of the numbers in ``block`` (MIC's plan)."""
    rule = prefix_rule(block[:6])
    assert rule is not None, block
    return rule[1]


def many_rules(parts: dict[Component, Part], count: int, seed: int) -> tuple[Rule, ...]:
    """``count`` range suspensions inside designated blocks and ``count`` overrides."""
    rng = random.Random(seed)
    tables = MemoryStore(parts).tables
    blocks = sorted(tables.blocks)
    rules: list[Rule] = []
    while len(rules) < count:
        block = rng.choice(blocks)
        width = _width(block)
        start = rng.randrange(10 ** (width - len(block) - 1))
        low = (block + str(start).zfill(width - len(block)))[:width]
        high = str(int(low) + rng.randrange(50, 3000)).zfill(width)
        if high[: len(block)] != block:
            continue
        rules.append(make_rule(RuleAction.SUSPEND, range_=(low, high), reference=f"NPA-{len(rules)}"))
    overrides = 0
    while overrides < count:
        block = rng.choice(blocks)
        width = _width(block)
        tail = str(rng.randrange(10 ** (width - len(block)))).zfill(width - len(block))
        action = RuleAction.ALLOW if overrides % 2 else RuleAction.DENY
        if overrides % 3:
            rules.append(make_rule(action, number=block + tail, reason="bench"))
        else:
            rules.append(make_rule(action, prefix=block + tail[:2], reason="bench"))
        overrides += 1
    return tuple({r.id: r for r in rules}.values())


def throughput(checks: int) -> None:
    parts = sample_parts()
    rules = many_rules(parts, 10_000, seed=3)
    plain = Screener(MemoryStore(parts), PolicyConfig(), clock=lambda: NOW)
    ruled = Screener(
        MemoryStore({**parts, Component.RULES: Part(Component.RULES, rules)}),
        PolicyConfig(),
        clock=lambda: NOW,
    )
    print(f"throughput, {checks:,} checks per run, CPU time, built-in data (30,627 blocks),")
    print(f"{len(rules):,} rules: 10,000 range suspensions inside designated blocks + 10,000 overrides")
    for label, pool_size in (("repeat callers (pool of 50,000)", 50_000), ("every caller distinct", checks)):
        pool = mixed_numbers(parts, pool_size, seed=1)
        rng = random.Random(2)
        numbers = [rng.choice(pool) for _ in range(checks)] if pool_size < checks else pool[:checks]
        hits = sum(1 for n in numbers[:20_000] if ruled.check(n, now=NOW).rules)
        rates: dict[str, list[float]] = {"none": [], "rules": []}
        ratios: list[float] = []
        for round_ in range(ROUNDS):
            # Pairs, in alternating order: the machine's speed drifts 2-3x within minutes, and the ratio
            # of two runs made back to back is what stays put. A fresh copy of the tables each run: no
            # run profits from the one before (its memo, the policy's outcome cache).
            order = (
                (("none", plain), ("rules", ruled))
                if round_ % 2 == 0
                else (("rules", ruled), ("none", plain))
            )
            pair: dict[str, float] = {}
            for name, screener in order:
                screener.store = MemoryStore(screener.store.tables.parts)  # type: ignore[attr-defined]
                screener.policy = PolicyConfig().compile()
                gc.collect()
                gc.freeze()  # as a snapshot does after loading (cache/snapshot.py): tables leave GC scans
                check = screener.check
                started = time.process_time()
                for n in numbers:
                    check(n, now=NOW)
                pair[name] = checks / (time.process_time() - started)
                rates[name].append(pair[name])
            ratios.append(pair["rules"] / pair["none"])
        base, with_rules = statistics.median(rates["none"]), statistics.median(rates["rules"])
        print(f"  {label}: {hits / 200:.1f} % of checks hit a rule")
        print(f"    no rules (baseline)   {base:>10,.0f} checks/s")
        print(
            f"    20,000 rules          {with_rules:>10,.0f} checks/s   "
            f"median ratio of {ROUNDS} back-to-back pairs {statistics.median(ratios):.3f}"
        )


def _wait_all(readers: list[RedisStore], text: str, seen: object) -> float:
    """Seconds until every reader's next check of ``text`` satisfies ``seen`` (polling each in turn)."""
    number = parse_number(text)
    started = time.perf_counter()
    pending = list(readers)
    while pending:
        pending = [r for r in pending if not seen(r.lookup(number, None, text))]  # type: ignore[operator]
        if time.perf_counter() - started > 10:
            raise RuntimeError(f"{len(pending)} readers never saw the change of {text}")
    return time.perf_counter() - started


def effect(trials: int) -> None:
    parts = sample_parts()
    tables = MemoryStore(parts).tables
    per_op = Counter(d.id for d in tables.designated.values() if d is not None and d.id)
    operator, blocks = per_op.most_common(1)[0]
    block = next(p for p, d in tables.designated.items() if d is not None and d.id == operator)
    width = _width(block)
    in_stock = (block + "1234567890")[:width]
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis", persist=False) as server:
        admin = RedisStore(RedisSettings(url=server.url, local_snapshot=False))
        admin.publish(parts)
        readers = [
            RedisStore(RedisSettings(url=server.url, local_snapshot=False)),
            RedisStore(RedisSettings(url=server.url, local_snapshot=True, local_reads=False)),
            RedisStore(RedisSettings(url=server.url, local_snapshot=True, local_reads=True)),
        ]
        for r in readers:
            if r.snapshot is not None:
                r.snapshot.wait_local(10) if r.settings.local_reads else r.snapshot.wait_for(
                    admin.status().data_version, 10
                )
        single, stock = [], []
        stock_rule = make_rule(
            RuleAction.SUSPEND, operator=operator, known_operators=[operator], reference="B"
        )
        for i in range(trials):
            e164 = f"+8135253{i:04d}"
            started = time.perf_counter()
            admin.add_suspensions([Suspension(e164, None, "B", None)])
            single.append(
                time.perf_counter() - started + _wait_all(readers, e164, lambda f: f.suspension is not None)
            )
            admin.remove_suspensions([e164])
            _wait_all(readers, e164, lambda f: f.suspension is None)
            started = time.perf_counter()
            admin.change_rules([stock_rule], [])
            stock.append(
                time.perf_counter() - started + _wait_all(readers, in_stock, lambda f: bool(f.rules))
            )
            admin.change_rules([], [stock_rule.id])
            _wait_all(readers, in_stock, lambda f: not f.rules)
        s, k = statistics.median(single) * 1000, statistics.median(stock) * 1000
        print(f"effect in 3 reader stores (script, snapshot, local reads), median of {trials}, wall time")
        print(f"  one number suspended (baseline)      {s:8.2f} ms")
        print(f"  stock of {operator} ({blocks:,} blocks)  {k:8.2f} ms   ratio {k / s:.2f}")
        for r in (*readers, admin):
            r.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--checks", type=int, default=200_000)
    ap.add_argument("--trials", type=int, default=15)
    args = ap.parse_args()
    throughput(args.checks)
    effect(args.trials)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
