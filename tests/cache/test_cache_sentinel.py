"""Replicated Redis behind Sentinel: primary, replica and Sentinel on loopback; fail the primary over."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis
from cachedata import fast_settings, varied_parts

from sipcheck.cache import EmbeddedRedis, RedisStore, find_redis_server
from sipcheck.cache.embedded import free_port, ping
from sipcheck.model import Suspension
from sipcheck.numbers import parse_number

SERVICE = "sipcheck"
NUMBER = parse_number("05012341234")


def _until(predicate: object, limit_s: float, what: str) -> None:
    """Poll a condition Redis offers no event for (replication link up, sentinel discovery)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def replicated(tmp_path: Path) -> Iterator[tuple[EmbeddedRedis, EmbeddedRedis, int]]:
    primary = EmbeddedRedis(tmp_path / "primary", persist=False).start()
    replica = EmbeddedRedis(
        tmp_path / "replica", persist=False, extra_args=("--replicaof", "127.0.0.1", str(primary.port))
    ).start()
    sentinel_port = free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {sentinel_port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor {SERVICE} 127.0.0.1 {primary.port} 1\n"
        f"sentinel down-after-milliseconds {SERVICE} 300\n"
        f"sentinel failover-timeout {SERVICE} 3000\n"
    )
    log = open(tmp_path / "sentinel.log", "wb")  # noqa: SIM115
    sentinel = subprocess.Popen([find_redis_server(), str(conf), "--sentinel"], stdout=log, stderr=log)
    try:
        replica_client = redis.Redis(port=replica.port, decode_responses=True)
        _until(lambda: replica_client.info("replication")["master_link_status"] == "up", 10, "replication")
        _until(lambda: ping(sentinel_port), 10, "sentinel start")
        s = redis.Redis(port=sentinel_port, decode_responses=True)
        _until(lambda: len(s.sentinel_slaves(SERVICE)) == 1, 10, "sentinel to discover the replica")
        yield primary, replica, sentinel_port
    finally:
        sentinel.terminate()
        sentinel.wait(10)
        log.close()
        replica.stop()
        primary.stop()


def test_checks_continue_across_a_failover(replicated: tuple[EmbeddedRedis, EmbeddedRedis, int]) -> None:
    primary, replica, sentinel_port = replicated
    settings = fast_settings(None, sentinels=[f"127.0.0.1:{sentinel_port}"], sentinel_service=SERVICE)
    store = RedisStore(settings)
    try:
        store.publish(varied_parts())
        redis.Redis(port=primary.port).wait(1, 2000)  # the replica has it all
        before = store.lookup(NUMBER, "peer-cloudx", "t")
        assert before.available and before.serving is not None

        events = redis.Redis(port=sentinel_port, decode_responses=True).pubsub()  # type: ignore[no-untyped-call]
        events.subscribe("+switch-master")
        assert events.get_message(timeout=2) is not None  # subscribe confirmation
        primary.kill()
        unavailable = answered = 0
        switched = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            facts = store.lookup(NUMBER, "peer-cloudx", "t")  # never raises, whatever state Redis is in
            if facts.available:
                answered += 1
                assert replace(facts, data_version="") == replace(before, data_version="")
                if switched:
                    break
            else:
                unavailable += 1
            message = events.get_message(timeout=0.01)
            if message and message["type"] == "message":
                switched = message["data"]
        assert switched is not None, "sentinel did not fail over"
        assert switched.split()[-1] == str(replica.port)
        facts = store.lookup(NUMBER, "peer-cloudx", "t")
        assert facts.available and replace(facts, data_version="") == replace(before, data_version="")
        # Writes follow the new primary too.
        store.add_suspensions([Suspension(NUMBER.e164)])
        assert store.lookup(NUMBER, None, "t").suspension is not None
        assert unavailable >= 1  # the primary really was gone for a while
        events.close()
    finally:
        store.close()
