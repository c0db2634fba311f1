"""Helpers for the HTTP API tests: the sample data in a MemoryStore, an in-process aiohttp test client.

There is no pytest asyncio plugin in the environment, so tests are plain
functions that run one coroutine with ``asyncio.run`` and open the client with
``async with api_client(...)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sipcheck.api import create_app
from sipcheck.sample import sample_parts
from sipcheck.screener import Screener
from sipcheck.settings import Settings
from sipcheck.store import FactStore, MemoryStore

TOKEN = "ops-token-0123456789abcdef"
OTHER_TOKEN = "loader-token-fedcba9876543210"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime(2026, 8, 1, 3, 0, tzinfo=UTC)  # sipcheck.sample.SAMPLE_DAY: the built-in data is fresh


def api_settings(**http: Any) -> Settings:
    values: dict[str, Any] = {"tokens": {"ops": TOKEN, "loader": OTHER_TOKEN}}
    values.update(http)
    return Settings(http=values)


def screener_for(store: FactStore, settings: Settings) -> Screener:
    return Screener(store, settings.compiled_policy(), clock=lambda: NOW)


@contextlib.asynccontextmanager
async def api_client(
    store: FactStore, settings: Settings | None = None
) -> AsyncIterator[TestClient[Any, Any]]:
    cfg = settings or api_settings()
    app = create_app(screener_for(store, cfg), store, cfg)
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(sample_parts())
