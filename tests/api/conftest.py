"""Fixtures for this area. Helpers live in a module with a unique name: test areas share one rootdir."""

from apihelpers import store  # noqa: F401
