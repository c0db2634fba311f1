"""Fixtures shared by every test area. Keep this file small and generic."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sipcheck.cache import EmbeddedRedis


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A real, private redis-server on a free loopback port (no persistence), stopped after the test.

    Use ``redis_server.url`` as ``RedisSettings.url``.
    """
    with EmbeddedRedis(tmp_path / "redis", persist=False) as server:
        yield server
