"""Fixtures for this area. Helpers live in a module with a unique name: test areas share one rootdir."""

from siphelpers import _no_stray_sipp, start_relay  # noqa: F401
