"""Timeouts, the circuit breaker and the fail policy, against a real server that dies or hangs."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from datetime import date

import pytest
from cachedata import SCHEDULING_SLACK_S, StoreFactory, fast_settings, varied_parts

from sipcheck.cache import BreakerState, CacheMetrics, CircuitBreaker, EmbeddedRedis, RedisStore
from sipcheck.cache.store import FailPolicy
from sipcheck.numbers import parse_number
from sipcheck.policy import PolicyConfig, decide
from sipcheck.settings import RedisSettings
from sipcheck.verdict import Action, Reason

TODAY = date(2026, 5, 1)
NUMBER = parse_number("05012341234")  # designated KDDI (certified), serving CloudX (uncertified)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_probes_and_closes() -> None:
    clock = FakeClock()
    metrics = CacheMetrics()
    breaker = CircuitBreaker(3, 1000, metrics, clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.failure()
    assert breaker.state == BreakerState.CLOSED
    breaker.failure()
    assert metrics.breaker_state == BreakerState.OPEN and metrics.breaker_opens == 1
    assert not breaker.allow()
    clock.now += 0.999
    assert not breaker.allow()
    clock.now += 0.002
    assert breaker.allow()  # the one probe
    assert metrics.breaker_state == BreakerState.HALF_OPEN
    assert not breaker.allow()  # everyone else waits for the probe's outcome
    breaker.failure()  # probe failed: open again for another reset period
    assert metrics.breaker_state == BreakerState.OPEN and metrics.breaker_opens == 2
    clock.now += 1.001
    assert breaker.allow()
    breaker.success()
    assert metrics.breaker_state == BreakerState.CLOSED and metrics.breaker_state == 0
    assert breaker.allow() and breaker.allow()


def test_a_burst_of_simultaneous_failures_does_not_open_the_breaker() -> None:
    """A stalled process sees all its calls time out at once; that alone must not stop it asking Redis."""
    clock = FakeClock()
    metrics = CacheMetrics()
    breaker = CircuitBreaker(3, 1000, metrics, clock, min_span_ms=20)
    for _ in range(64):
        breaker.failure()
    assert metrics.breaker_state == BreakerState.CLOSED
    clock.now += 0.021
    breaker.failure()  # still failing one command timeout later: Redis really is in trouble
    assert metrics.breaker_state == BreakerState.OPEN


def _verdict_reasons(store: RedisStore, policy: PolicyConfig) -> tuple[Action, tuple[Reason, ...]]:
    v = decide(store.lookup(NUMBER, "10.0.0.1", "t"), policy.compile(), TODAY)
    return v.action, v.reasons


@pytest.mark.parametrize(
    ("fail_policy", "action"), [("open", Action.FLAG), ("closed", Action.BLOCK)], ids=["open", "closed"]
)
def test_dead_redis_gives_the_fail_policy_verdict_within_budget(
    make_store: StoreFactory, redis_server: EmbeddedRedis, fail_policy: FailPolicy, action: Action
) -> None:
    store = make_store(fail_policy)
    store.publish(varied_parts())
    policy = PolicyConfig(fail_policy=fail_policy)
    assert _verdict_reasons(store, policy)[0] is Action.FLAG  # CloudX serving is uncertified
    redis_server.kill()
    budget_s = store.settings.check_budget_ms / 1000
    m = store.metrics
    calls = 0
    while m.breaker_opens == 0 and calls < 2000:  # 3 failures in a row lasting >= one command timeout
        calls += 1
        start = time.perf_counter()
        facts = store.lookup(NUMBER, "10.0.0.1", "t")
        elapsed = time.perf_counter() - start
        assert elapsed < budget_s + SCHEDULING_SLACK_S, (calls, elapsed)
        assert not facts.available and facts.number == NUMBER and facts.ingress_peer == "10.0.0.1"
        v = decide(facts, policy.compile(), TODAY)
        assert v.action is action and v.reasons == (Reason.DATA_UNAVAILABLE,)
        time.sleep(0.002)  # a caller's pace
    assert m.breaker_opens == 1 and m.breaker_state == int(BreakerState.OPEN)
    errors = m.errors
    assert errors == calls >= 3
    for _ in range(20):
        facts = store.lookup(NUMBER, "10.0.0.1", "t")
        assert decide(facts, policy.compile(), TODAY).action is action
    assert m.errors == errors  # open: Redis is not asked
    assert m.lookups == 1 + calls + 20 and m.unavailable_answers == calls + 20


def test_snapshot_fail_policy_answers_from_the_snapshot(
    make_store: StoreFactory, redis_server: EmbeddedRedis
) -> None:
    store = make_store("snapshot")
    version = store.publish(varied_parts())
    assert store.snapshot is not None and store.snapshot.wait_for(version, 5)
    live = store.lookup(NUMBER, "10.0.0.1", "t")
    suspended = parse_number("+815012341111")
    redis_server.kill()
    facts = store.lookup(NUMBER, "10.0.0.1", "t")
    assert facts.available and facts.from_snapshot
    assert facts.block == live.block and facts.serving == live.serving and facts.ingress == live.ingress
    assert store.lookup(suspended, None, "t").suspension is not None  # small suspension list: kept locally
    v = decide(facts, PolicyConfig(fail_policy="snapshot").compile(), TODAY)
    assert Reason.DATA_FROM_SNAPSHOT in v.reasons and v.action is Action.FLAG
    assert store.metrics.snapshot_answers == 2


def test_hung_redis_times_out_within_budget(make_store: StoreFactory, redis_server: EmbeddedRedis) -> None:
    store = make_store(breaker_failures=1000)  # keep asking: every call must pay at most one timeout
    store.publish(varied_parts())
    assert store.lookup(NUMBER, None, "t").available
    assert redis_server.pid is not None
    os.kill(redis_server.pid, signal.SIGSTOP)
    try:
        worst = 0.0
        for _ in range(5):
            start = time.perf_counter()
            facts = store.lookup(NUMBER, None, "t")
            worst = max(worst, time.perf_counter() - start)
            assert not facts.available
        assert worst < store.settings.check_budget_ms / 1000 + 0.05
        assert store.metrics.timeouts >= 5
    finally:
        os.kill(redis_server.pid, signal.SIGCONT)
    # The server answers again; the next checks do too (stale replies on timed-out sockets are dropped).
    assert _first_available_within(store, 2.0)


def _first_available_within(store: RedisStore, limit_s: float) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if store.lookup(NUMBER, None, "t").available:
            return True
        time.sleep(0.01)  # pacing of the checking caller, not a wait for an event
    return False


@pytest.fixture
def restartable(tmp_path: os.PathLike[str]) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(os.path.join(tmp_path, "r"), persist=False).start()
    yield server
    server.stop()


def test_checks_recover_within_2s_with_default_settings(restartable: EmbeddedRedis) -> None:
    settings = RedisSettings(url=restartable.url, local_snapshot=False)  # the shipped defaults
    store = RedisStore(settings)
    try:
        store.publish(varied_parts())
        restartable.kill()
        for _ in range(2000):
            assert not store.lookup(NUMBER, None, "t").available
            if store.metrics.breaker_opens:
                break
            time.sleep(0.002)  # a caller's pace
        assert store.metrics.breaker_state == BreakerState.OPEN
        restartable.start()  # same port
        back = time.monotonic()
        store.publish(varied_parts())  # the new server came back empty
        assert _first_available_within(store, 2.0)
        assert time.monotonic() - back < 2.0
        assert store.metrics.breaker_state == BreakerState.CLOSED
    finally:
        store.close()


def test_async_lookup_fails_within_budget(make_store: StoreFactory, redis_server: EmbeddedRedis) -> None:
    store = make_store(breaker_failures=1000)
    store.publish(varied_parts())
    assert redis_server.pid is not None

    async def run() -> list[float]:
        assert (await store.alookup(NUMBER, None, "t")).available
        os.kill(redis_server.pid, signal.SIGSTOP)  # type: ignore[arg-type]
        times = []
        try:
            for _ in range(3):
                start = time.perf_counter()
                facts = await store.alookup(NUMBER, None, "t")
                times.append(time.perf_counter() - start)
                assert not facts.available
        finally:
            os.kill(redis_server.pid, signal.SIGCONT)  # type: ignore[arg-type]
        await store.aclose()
        return times

    times = asyncio.run(run())
    assert max(times) < store.settings.check_budget_ms / 1000 + 0.05
    assert store.metrics.timeouts >= 3


def test_bad_settings_are_named() -> None:
    from sipcheck.store import StoreError

    with pytest.raises(StoreError, match="not host:port"):
        RedisStore(fast_settings("redis://127.0.0.1:1", sentinels=["nohost"]))
