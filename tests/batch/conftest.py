"""Shared fixtures for the batch tests: a realistic data set in a MemoryStore, a policy and a day."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from sipcheck.batch import BatchTables, load_tables
from sipcheck.batch.synthetic import SAMPLE_DAY, synthetic_parts
from sipcheck.model import Component, Part
from sipcheck.policy import CompiledPolicy, PolicyConfig
from sipcheck.screener import Screener
from sipcheck.store import MemoryStore


@pytest.fixture(scope="session")
def parts() -> dict[Component, Part]:
    return synthetic_parts(seed=7, suspensions=1_500)


@pytest.fixture(scope="session")
def store(parts: dict[Component, Part]) -> MemoryStore:
    return MemoryStore(parts)


@pytest.fixture(scope="session")
def tables(store: MemoryStore) -> BatchTables:
    return load_tables(store)


@pytest.fixture(scope="session")
def policy() -> CompiledPolicy:
    return PolicyConfig().compile()


@pytest.fixture(scope="session")
def today() -> date:
    return SAMPLE_DAY


@pytest.fixture(scope="session")
def now() -> datetime:
    """A moment whose Japanese date is SAMPLE_DAY (what Screener derives `today` from)."""
    return datetime(SAMPLE_DAY.year, SAMPLE_DAY.month, SAMPLE_DAY.day, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def screener(store: MemoryStore, policy: CompiledPolicy) -> Screener:
    return Screener(store, policy)
