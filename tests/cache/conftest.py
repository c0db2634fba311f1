"""Fixtures for the Redis cache tests: real servers and stores with fast-failing settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cachedata import StoreFactory, fast_settings

from sipcheck.cache import EmbeddedRedis, RedisStore
from sipcheck.cache.store import FailPolicy


@pytest.fixture
def make_store(redis_server: EmbeddedRedis) -> Iterator[StoreFactory]:
    """Build RedisStores on the test's server; all are closed after the test."""
    stores: list[RedisStore] = []

    def build(fail_policy: FailPolicy = "open", **overrides: object) -> RedisStore:
        store = RedisStore(fast_settings(redis_server.url, **overrides), fail_policy=fail_policy)
        stores.append(store)
        return store

    yield build
    for store in stores:
        store.close()


@pytest.fixture
def second_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(tmp_path / "redis2", persist=False) as server:
        yield server
