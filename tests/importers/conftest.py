"""Fixtures for this area. Helpers live in a module with a unique name: test areas share one rootdir."""

from importerhelpers import write_xls, write_xlsx  # noqa: F401
