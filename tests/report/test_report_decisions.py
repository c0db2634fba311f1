"""Decision logs (`decision_record`s of real `Screener.check` verdicts), alone and mixed with screened CSV."""

from __future__ import annotations

import gzip
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from reportdata import MONTH_END, MONTH_START, Month, assert_matches, expected, in_window

from sipcheck.decisions import DECISION_FIELDS
from sipcheck.report import aggregate, read_batches
from sipcheck.report.read import is_decision_log


def test_the_fixture_is_real_decision_records(decision_log: tuple[Path, list[dict[str, Any]]]) -> None:
    _, records = decision_log
    assert all(tuple(r) == DECISION_FIELDS for r in records)
    assert {r["action"] for r in records} == {"allow", "flag", "block"}
    assert {r["data_version"] for r in records} >= {"2"}


def test_decision_log_alone_over_the_month(decision_log: tuple[Path, list[dict[str, Any]]]) -> None:
    path, records = decision_log
    report = aggregate(read_batches([path]), since=MONTH_START, until=MONTH_END)
    rows = in_window(records, MONTH_START, MONTH_END)
    assert 0 < len(rows) < len(records), "some records lie outside the window"
    assert_matches(report, expected(rows))
    assert report.outside_window == len(records) - len(rows)
    # The edges: since is in, until is out, a millisecond before until is in.
    edge = [r for r in rows if r["call_id"].startswith("edge")]
    assert sorted(r["call_id"] for r in edge) == ["edge0", "edge2"]


def test_mixed_with_the_screened_month_and_windowed(
    month: Month, decision_log: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    path, records = decision_log
    gz = tmp_path / "decisions.jsonl.gz"
    with open(path, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert is_decision_log(gz)
    since = MONTH_START + timedelta(days=7, hours=12)
    until = MONTH_END - timedelta(days=3)
    inputs = [month.screened[0], gz, month.screened[1]]
    report = aggregate(read_batches(inputs), since=since, until=until, top=10)
    rows = in_window([*month.rows, *records], since, until)
    assert_matches(report, expected(rows, top=10))
    assert [s for s, _ in report.sources] == [str(p) for p in inputs]
    assert sum(n for _, n in report.sources) == len(month.rows) + len(records)
    assert report.days[0].key == "2026-11-08" and report.days[-1].key == "2026-11-27"
    # No window: everything, the log's October and December days too.
    everything = aggregate(read_batches(inputs))
    assert everything.total.calls == len(month.rows) + len(records)
    assert everything.days[0].key == "2026-10-28" and everything.days[-1].key == "2026-12-03"
