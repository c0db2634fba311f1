"""Coalesced async lookups: the checks one event loop queues in an iteration go to Redis as one call.

Real servers only. Parity with the one-check-per-call sync path, the batch size bound, outages
(every waiter gets the fail-policy answer within its budget), cancelled waiters, SCRIPT FLUSH.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import replace

import pytest
from cachedata import SCHEDULING_SLACK_S, StoreFactory, numbers_for, varied_parts

from sipcheck.cache import EmbeddedRedis, RedisStore
from sipcheck.cache.store import FailPolicy
from sipcheck.facts import Facts
from sipcheck.model import Component, Part, Trunk
from sipcheck.numbers import PhoneNumber, parse_number
from sipcheck.store import MemoryStore

INGRESS = (None, "peer-cloudx", "10.0.0.1", "", "unknown-peer")


def _calls(parts_numbers: list[str], repeat: int = 3) -> list[tuple[PhoneNumber, str | None, str]]:
    """Every number with every ingress variant, ``repeat`` times over (69 x 5 x 3 for varied_parts)."""
    once = [(parse_number(text), ingress, text) for text in parts_numbers for ingress in INGRESS]
    return once * repeat


def _record_batches(store: RedisStore) -> list[int]:
    """Sizes of the batches the store sends (wraps the instance's batch runner)."""
    sizes: list[int] = []
    run = store._run_batch

    async def recording(lc: object, batch: list[object]) -> None:
        sizes.append(len(batch))
        await run(lc, batch)  # type: ignore[arg-type]

    store._run_batch = recording  # type: ignore[method-assign,assignment]
    return sizes


@pytest.mark.parametrize("snapshot", [False, True], ids=["script", "snapshot"])
@pytest.mark.parametrize("batch_max", [256, 7])
def test_concurrent_alookups_equal_sequential_lookups(
    make_store: StoreFactory, snapshot: bool, batch_max: int
) -> None:
    parts = varied_parts()
    store = make_store(local_snapshot=snapshot, batch_max=batch_max, check_budget_ms=2000)
    version = store.publish(parts)
    if snapshot:
        assert store.snapshot is not None and store.snapshot.wait_for(version, 5)
    calls = _calls(numbers_for(parts))
    assert len(calls) > 3 * batch_max
    sizes = _record_batches(store)

    async def run() -> list[Facts]:
        results = await asyncio.gather(*(store.alookup(n, ingress, text) for n, ingress, text in calls))
        await store.aclose()
        return list(results)

    got = asyncio.run(run())
    want = [store.lookup(n, ingress, text) for n, ingress, text in calls]
    assert got == want
    assert all(f.available and f.data_version == version for f in got)
    assert sum(sizes) == len(calls) and max(sizes) <= batch_max
    assert len(sizes) < len(calls) / 2  # coalesced, not one call per check
    assert store.metrics.batches == len(sizes)
    assert store.metrics.errors == 0 and store.metrics.timeouts == 0


def test_one_batch_sees_one_version_and_suspension_changes(make_store: StoreFactory) -> None:
    parts = varied_parts()
    store = make_store(local_snapshot=True, check_budget_ms=2000)
    version = store.publish(parts)
    assert store.snapshot is not None and store.snapshot.wait_for(version, 5)
    number = parse_number("05012341234")
    from sipcheck.model import Suspension

    async def run() -> list[Facts]:
        results = await asyncio.gather(*(store.alookup(number, None, "t") for _ in range(50)))
        return list(results)

    before = asyncio.run(run())
    assert all(f.suspension is None for f in before)
    store.add_suspensions([Suspension(number.e164, reference="case-1")])  # not in the snapshot yet
    after = asyncio.run(run())
    assert all(f.suspension is not None and f.suspension.reference == "case-1" for f in after)
    assert len({f.data_version for f in after}) == 1


def test_batch_size_is_bounded(make_store: StoreFactory) -> None:
    store = make_store(batch_max=16, check_budget_ms=2000)
    store.publish(varied_parts())
    sizes = _record_batches(store)
    number = parse_number("05012341234")

    async def run() -> list[Facts]:
        results = await asyncio.gather(*(store.alookup(number, None, str(i)) for i in range(200)))
        await store.aclose()
        return list(results)

    got = asyncio.run(run())
    assert [f.input for f in got] == [str(i) for i in range(200)]
    assert all(f.available for f in got)
    assert sum(sizes) == 200 and max(sizes) == 16 and len(sizes) >= 13


@pytest.mark.parametrize("how", ["killed", "hung"])
@pytest.mark.parametrize("fail_policy", ["open", "closed", "snapshot"])
def test_outage_gives_every_waiter_the_fail_policy_answer_within_budget(
    make_store: StoreFactory, redis_server: EmbeddedRedis, how: str, fail_policy: FailPolicy
) -> None:
    parts = varied_parts()
    store = make_store(fail_policy, breaker_failures=1000)
    version = store.publish(parts)
    if fail_policy == "snapshot":
        assert store.snapshot is not None and store.snapshot.wait_for(version, 5)
    calls = _calls(numbers_for(parts))[:300]
    budget = store.settings.check_budget_ms / 1000

    async def timed(n: PhoneNumber, ingress: str | None, text: str) -> tuple[Facts, float]:
        start = time.perf_counter()
        facts = await store.alookup(n, ingress, text)
        return facts, time.perf_counter() - start

    async def run() -> list[tuple[Facts, float]]:
        assert (await store.alookup(*calls[0])).available
        pid = redis_server.pid
        assert pid is not None
        if how == "killed":
            redis_server.kill()
        else:
            os.kill(pid, signal.SIGSTOP)
        try:
            results = []
            for _ in range(3):  # waves: the first on live connections, then on reconnects
                results += await asyncio.gather(*(timed(*c) for c in calls))
        finally:
            if how == "hung":
                os.kill(pid, signal.SIGCONT)
        await store.aclose()
        return results

    results = asyncio.run(run())
    assert len(results) == 3 * len(calls)
    for (facts, elapsed), (number, ingress, text) in zip(results, calls * 3, strict=True):
        assert elapsed < budget + SCHEDULING_SLACK_S, elapsed
        assert facts.number == number and facts.ingress_peer == ingress and facts.input == text
        if fail_policy == "snapshot":
            assert facts.available and facts.from_snapshot
        else:
            assert not facts.available
    m = store.metrics
    answered = m.unavailable_answers + m.snapshot_answers
    assert answered == len(results)
    assert m.errors + m.timeouts == len(results)


def test_dead_redis_opens_the_breaker_for_concurrent_callers(
    make_store: StoreFactory, redis_server: EmbeddedRedis
) -> None:
    store = make_store()
    store.publish(varied_parts())
    number = parse_number("05012341234")

    async def run() -> int:
        redis_server.kill()
        waves = 0
        while store.metrics.breaker_opens == 0 and waves < 200:
            waves += 1
            facts = await asyncio.gather(*(store.alookup(number, None, "t") for _ in range(20)))
            assert not any(f.available for f in facts)
            await asyncio.sleep(0.005)
        asked = store.metrics.batches
        facts = await asyncio.gather(*(store.alookup(number, None, "t") for _ in range(20)))
        assert not any(f.available for f in facts)
        assert store.metrics.batches == asked  # open: Redis is not asked
        await store.aclose()
        return waves

    waves = asyncio.run(run())
    assert store.metrics.breaker_opens == 1 and waves >= 3


def test_a_waiter_cancelled_mid_batch_does_not_break_the_others(
    make_store: StoreFactory, redis_server: EmbeddedRedis
) -> None:
    parts = varied_parts()
    store = make_store(check_budget_ms=5000)
    store.publish(parts)
    calls = _calls(numbers_for(parts))[:60]
    pid = redis_server.pid
    assert pid is not None

    async def run() -> list[Facts | None]:
        assert (await store.alookup(*calls[0])).available  # connect, load the script
        os.kill(pid, signal.SIGSTOP)  # the batch will be in flight, waiting for the reply
        try:
            tasks = [asyncio.create_task(store.alookup(*c)) for c in calls]
            await asyncio.sleep(0.05)
            assert store.metrics.batches == 2 and not any(t.done() for t in tasks)
            for t in tasks[::3]:
                t.cancel()
        finally:
            os.kill(pid, signal.SIGCONT)
        results: list[Facts | None] = []
        for t in tasks:
            try:
                results.append(await t)
            except asyncio.CancelledError:
                results.append(None)
        await store.aclose()
        return results

    results = asyncio.run(run())
    for i, (facts, (number, ingress, text)) in enumerate(zip(results, calls, strict=True)):
        if i % 3 == 0:
            assert facts is None
        else:
            assert facts == store.lookup(number, ingress, text)
    assert store.metrics.errors == 0 and store.metrics.timeouts == 0


def test_batches_survive_script_flush(make_store: StoreFactory, redis_server: EmbeddedRedis) -> None:
    import redis

    store = make_store()
    store.publish(varied_parts())
    calls = _calls(numbers_for(varied_parts()))[:40]

    async def run() -> tuple[list[Facts], list[Facts]]:
        first = list(await asyncio.gather(*(store.alookup(*c) for c in calls)))
        redis.Redis.from_url(redis_server.url).script_flush()
        second = list(await asyncio.gather(*(store.alookup(*c) for c in calls)))
        await store.aclose()
        return first, second

    first, second = asyncio.run(run())
    assert first == second and all(f.available for f in second)
    assert store.metrics.errors == 0


def test_an_ingress_with_record_separators_still_gets_its_facts(make_store: StoreFactory) -> None:
    store = make_store()
    store.publish(varied_parts())
    number = parse_number("05012341234")
    odd = "peer\x1ewith\x1fseparators"

    async def run() -> list[Facts]:
        results = await asyncio.gather(store.alookup(number, odd, "t"), store.alookup(number, None, "t"))
        await store.aclose()
        return list(results)

    got = asyncio.run(run())
    assert got == [store.lookup(number, odd, "t"), store.lookup(number, None, "t")]
    assert got[0].ingress_peer == odd and got[0].ingress is None


@pytest.mark.parametrize("snapshot", [False, True], ids=["script", "snapshot"])
def test_a_trunk_whose_peer_contains_record_separators_is_found(
    make_store: StoreFactory, snapshot: bool
) -> None:
    """The peer is the one free-text field of a batch record: it travels hex-encoded, on both paths."""
    parts = varied_parts()
    odd = "trunk\x1eA\x1fé%="
    trunks = Part(Component.TRUNKS, (*parts[Component.TRUNKS].records, Trunk(odd, "kddi")))
    parts = {**parts, Component.TRUNKS: trunks}
    store = make_store(local_snapshot=snapshot)
    version = store.publish(parts)
    if snapshot:
        assert store.snapshot is not None and store.snapshot.wait_for(version, 5)
    memory = MemoryStore(parts)
    number = parse_number("05012341234")
    peers = (odd, odd + "x", "%74", "=10.0.0.1", "10.0.0.1")

    async def run() -> list[Facts]:
        results = await asyncio.gather(*(store.alookup(number, peer, "t") for peer in peers))
        await store.aclose()
        return list(results)

    got = asyncio.run(run())
    expected = [replace(memory.lookup(number, peer, "t"), data_version=version) for peer in peers]
    assert got == expected == [store.lookup(number, peer, "t") for peer in peers]
    assert got[0].ingress is not None and got[0].ingress.id == "kddi"
    assert [f.ingress is None for f in got[1:]] == [True, True, True, False]


def test_waiters_past_their_budget_are_answered_while_the_batch_goes_on_for_the_others(
    make_store: StoreFactory, redis_server: EmbeddedRedis
) -> None:
    """One batch, two budgets: the early waiters get the fail policy at their deadline, the rest the reply."""
    parts = varied_parts()
    store = make_store(check_budget_ms=400)
    store.publish(parts)
    calls = _calls(numbers_for(parts), repeat=1)[:40]
    early, late = calls[:20], calls[20:]
    pid = redis_server.pid
    assert pid is not None

    async def timed(call: tuple[PhoneNumber, str | None, str]) -> tuple[Facts, float]:
        start = time.perf_counter()
        facts = await store.alookup(*call)
        return facts, time.perf_counter() - start

    async def run() -> tuple[list[tuple[Facts, float]], list[tuple[Facts, float]]]:
        assert (await store.alookup(*calls[0])).available
        os.kill(pid, signal.SIGSTOP)
        try:
            blocker = asyncio.create_task(store.alookup(*calls[0]))  # in flight: the others queue behind it
            await asyncio.sleep(0)
            first = [asyncio.create_task(timed(c)) for c in early]
            await asyncio.sleep(0.2)
            second = [asyncio.create_task(timed(c)) for c in late]
            await asyncio.sleep(0.3)  # the blocker expired (0.4 s): early + late went as one batch
            assert not (await blocker).available
            assert store.metrics.batches == 3
            # Everything early was answered at its own deadline, while Redis was still stopped.
            assert all(task.done() for task in first)
        finally:
            os.kill(pid, signal.SIGCONT)
        results = await asyncio.gather(*first), await asyncio.gather(*second)
        await store.aclose()
        return results

    first, second = asyncio.run(run())
    for facts, elapsed in first:
        assert not facts.available and 0.35 < elapsed < 0.45 + SCHEDULING_SLACK_S
    for (facts, _elapsed), call in zip(second, late, strict=True):
        assert facts == store.lookup(*call)
    assert store.metrics.batches == 3
