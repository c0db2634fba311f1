"""Fixtures of the report tests: the synthetic data set, a screened month, a decision log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from reportdata import Month, make_decision_log, make_month

from sipcheck.batch.synthetic import synthetic_parts
from sipcheck.model import Component, Part


@pytest.fixture(scope="session")
def report_parts() -> dict[Component, Part]:
    return synthetic_parts(seed=7, suspensions=1_500)


@pytest.fixture(scope="session")
def month(report_parts: dict[Component, Part], tmp_path_factory: pytest.TempPathFactory) -> Month:
    return make_month(report_parts, tmp_path_factory.mktemp("month"))


@pytest.fixture(scope="session")
def decision_log(month: Month, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    path = tmp_path_factory.mktemp("decisions") / "decisions.jsonl"
    return path, make_decision_log(month.store, path)
