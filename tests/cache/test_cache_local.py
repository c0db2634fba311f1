"""Local reads: checks answered from process memory while the snapshot is provably in step with Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from dataclasses import replace

import redis
from cachedata import StoreFactory, varied_parts

from sipcheck.cache import EmbeddedRedis, RedisStore
from sipcheck.facts import Facts
from sipcheck.model import Block, Component, Suspension
from sipcheck.numbers import NumberKind, parse_number

NUMBER = parse_number("05012345555")
SYNC_MS = 300.0


def _local_reader(make_store: StoreFactory, **overrides: object) -> RedisStore:
    values: dict[str, object] = {"local_snapshot": True, "local_reads": True, "sync_timeout_ms": SYNC_MS}
    values.update(overrides)
    return make_store(**values)


def _until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def _synced(store: RedisStore) -> None:
    assert store.snapshot is not None and store.snapshot.wait_local(5), "local reads never started"


def test_in_step_checks_make_no_round_trip(make_store: StoreFactory) -> None:
    reader = _local_reader(make_store)
    version = make_store().publish(varied_parts())
    assert reader.snapshot is not None and reader.snapshot.wait_for(version, 5)
    _synced(reader)

    async def many() -> list[Facts]:
        return list(await asyncio.gather(*(reader.alookup(NUMBER, None, "t") for _ in range(50))))

    answers = [reader.lookup(NUMBER, "peer-cloudx", "t") for _ in range(50)] + asyncio.run(many())
    assert all(a.available and not a.from_snapshot and a.data_version == version for a in answers)
    assert reader.metrics.local_answers == reader.metrics.lookups == 100
    assert reader.metrics.batches == 0  # not one script call
    assert reader.local_in_sync


def test_another_process_change_arrives_as_a_delta(make_store: StoreFactory) -> None:
    reader = _local_reader(make_store)
    writer = make_store()
    writer.publish(varied_parts())
    _synced(reader)
    refreshes = reader.metrics.snapshot_refreshes
    writer.add_suspensions([Suspension(NUMBER.e164, reference="police-1")])
    assert _until(lambda: reader.lookup(NUMBER, None, "t").suspension is not None)
    facts = reader.lookup(NUMBER, None, "t")
    assert facts.suspension == Suspension(NUMBER.e164, None, "police-1", None)
    assert reader.metrics.local_answers == reader.metrics.lookups  # every answer above was local
    writer.remove_suspensions([NUMBER.e164])
    assert _until(lambda: reader.lookup(NUMBER, None, "t").suspension is None)
    assert reader.metrics.snapshot_refreshes == refreshes  # deltas, not reloads


def test_a_process_reads_its_own_writes_at_once(make_store: StoreFactory) -> None:
    """The admin API's worker answers the next check with the change it just made, never the old data."""
    store = _local_reader(make_store)
    parts = varied_parts()
    store.publish(parts)
    _synced(store)
    store.add_suspensions([Suspension(NUMBER.e164)])
    assert store.lookup(NUMBER, None, "t").suspension == Suspension(NUMBER.e164)
    store.remove_suspensions([NUMBER.e164])
    assert store.lookup(NUMBER, None, "t").suspension is None
    fresh = parse_number("0352990000")
    blocks = parts[Component.BLOCKS]
    version = store.publish(
        {
            Component.BLOCKS: replace(
                blocks, records=(*blocks.records, Block("035299", NumberKind.FIXED, "kddi"))
            )
        }
    )
    facts = store.lookup(fresh, None, "t")
    assert facts.block is not None and facts.data_version == version
    _synced(store)  # and local reads resume once the keeper has the new version
    assert store.lookup(fresh, None, "t").block is not None


def test_a_lost_delta_is_noticed_and_reloaded(make_store: StoreFactory, redis_server: EmbeddedRedis) -> None:
    reader = _local_reader(make_store)
    writer = make_store()
    writer.publish(varied_parts())
    _synced(reader)
    assert reader.snapshot is not None
    refreshes = reader.metrics.snapshot_refreshes
    # A change whose message never arrived: its number is taken, its delta never published.
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    client.incr(reader.keys.suspseq)
    client.hset(_suspension_key(client, reader), NUMBER.e164, "")
    other = parse_number("05012346666")
    writer.add_suspensions([Suspension(other.e164)])  # arrives with a gap in the numbering
    assert _until(lambda: reader.metrics.snapshot_refreshes > refreshes)
    _synced(reader)
    assert reader.lookup(NUMBER, None, "t").suspension is not None  # the lost one, from the reload
    assert reader.lookup(other, None, "t").suspension is not None
    client.close()


def _suspension_key(client: redis.Redis, store: RedisStore) -> str:
    live = str(client.get(store.keys.live))
    version = str(client.hget(store.keys.manifest(live), Component.SUSPENSIONS.value))
    return store.keys.component(Component.SUSPENSIONS, version)


def test_a_killed_subscription_resubscribes_and_catches_up(
    make_store: StoreFactory, redis_server: EmbeddedRedis
) -> None:
    reader = _local_reader(make_store)
    writer = make_store()
    writer.publish(varied_parts())
    _synced(reader)
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    killed = client.client_kill_filter(_type="pubsub")
    assert killed >= 1
    writer.add_suspensions([Suspension(NUMBER.e164)])  # published while nobody subscribed
    assert _until(lambda: reader.lookup(NUMBER, None, "t").suspension is not None)
    _synced(reader)
    assert reader.lookup(NUMBER, None, "t").suspension is not None
    client.close()


def test_a_hung_redis_ends_local_reads_within_the_sync_timeout(
    make_store: StoreFactory, redis_server: EmbeddedRedis
) -> None:
    """Local answers stop when Redis goes silent; checks then meet the fail policy; they resume after."""
    reader = _local_reader(make_store, check_budget_ms=50)
    make_store().publish(varied_parts())
    _synced(reader)
    assert redis_server.pid is not None
    os.kill(redis_server.pid, signal.SIGSTOP)
    try:
        stopped = time.monotonic()
        assert _until(lambda: not reader.local_in_sync, timeout=5)
        silent_for = time.monotonic() - stopped
        facts = reader.lookup(NUMBER, None, "t")
        assert not facts.available  # the fail policy (open), not a local answer
    finally:
        os.kill(redis_server.pid, signal.SIGCONT)
    assert silent_for < 5 and silent_for >= SYNC_MS / 1000 * 0.5
    _synced(reader)
    assert reader.lookup(NUMBER, None, "t").available


def test_a_reconnect_with_nothing_changed_keeps_the_copy(
    make_store: StoreFactory, redis_server: EmbeddedRedis
) -> None:
    """Every process resyncs after a Redis restart: when nothing changed it must not reload everything."""
    reader = _local_reader(make_store)
    make_store().publish(varied_parts())
    _synced(reader)
    assert reader.snapshot is not None
    state, refreshes = reader.snapshot.state, reader.metrics.snapshot_refreshes
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    assert client.client_kill_filter(_type="pubsub") >= 1
    _synced(reader)
    assert reader.snapshot.state is state and reader.metrics.snapshot_refreshes == refreshes
    client.close()


def test_a_suspension_reload_keeps_the_compiled_static_tables(make_store: StoreFactory) -> None:
    reader = _local_reader(make_store)
    writer = make_store()
    parts = varied_parts()
    writer.publish(parts)
    _synced(reader)
    assert reader.snapshot is not None and reader.snapshot.state is not None
    blocks = reader.snapshot.state.tables.blocks
    version = writer.publish(
        {Component.SUSPENSIONS: replace(parts[Component.SUSPENSIONS], records=(Suspension(NUMBER.e164),))}
    )
    assert _until(
        lambda: (
            reader.snapshot is not None
            and reader.snapshot.state is not None
            and reader.snapshot.state.version == version
        )
    )
    _synced(reader)
    facts = reader.lookup(NUMBER, None, "t")
    assert facts.suspension == Suspension(NUMBER.e164) and facts.data_version == version
    assert reader.snapshot.state.tables.blocks is blocks  # not recompiled
    old = next(r for r in parts[Component.SUSPENSIONS].records if isinstance(r, Suspension))
    assert reader.lookup(parse_number(old.number), None, "t").suspension is None  # the old set is gone


def test_the_breaker_closes_when_local_answers_prove_redis_is_back(
    make_store: StoreFactory, redis_server: EmbeddedRedis
) -> None:
    """With local reads the call path may never ask Redis again after it returns: the breaker gauge
    must not stay open (an alert on it would fire falsely) while answers are already normal."""
    reader = _local_reader(make_store, check_budget_ms=50)
    make_store().publish(varied_parts())
    _synced(reader)
    assert redis_server.pid is not None
    os.kill(redis_server.pid, signal.SIGSTOP)
    try:
        assert _until(lambda: not reader.local_in_sync, timeout=5)
        assert _until(
            lambda: not reader.lookup(NUMBER, None, "t").available and reader.metrics.breaker_state == 1
        )
    finally:
        os.kill(redis_server.pid, signal.SIGCONT)
    _synced(reader)
    assert reader.lookup(NUMBER, None, "t").available
    assert reader.metrics.breaker_state == 0
