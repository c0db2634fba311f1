"""Fixtures for this area. Helpers live in a module with a unique name: test areas share one rootdir."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from updatehelpers import Site, serve_site


@pytest.fixture
def site() -> Iterator[Site]:
    """A real HTTP server on 127.0.0.1 (free port) answering the routes a test adds."""
    with serve_site() as running:
        yield running
