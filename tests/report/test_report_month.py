"""A month of really screened traffic: every figure of the report recounted from the rows."""

from __future__ import annotations

import csv
import gzip
import io
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from reportdata import (
    CALLS,
    JST,
    MONTH_END,
    MONTH_START,
    Month,
    assert_matches,
    expected,
    in_window,
    moment_of,
    table,
)

from sipcheck.report import aggregate, read_batches
from sipcheck.report.aggregate import Counts, Report, Row
from sipcheck.report.read import SCHEMA, VERDICT_COLUMNS
from sipcheck.report.render import SECTIONS, csv_rows, render_html


def month_report(month: Month, **kwargs: Any) -> Report:
    return aggregate(read_batches(month.screened), since=MONTH_START, until=MONTH_END, **kwargs)


def test_every_figure_matches_an_independent_count(month: Month) -> None:
    report = month_report(month)
    want = expected(month.rows)
    assert report.total.calls == CALLS
    assert_matches(report, want)
    # The mix must really exercise the report: all actions, both data versions, Japanese names.
    assert report.total.allowed and report.total.flagged and report.total.blocked
    assert {"1", "2"} <= {r.key for r in report.data_versions}  # and "" for numbers that never parsed
    assert any(any("\u3040" <= ch <= "\u9fff" for ch in r.key) for r in report.designated)
    assert "" in {r.key for r in report.ingress}, "calls with no ingress operator"
    assert len(report.reasons) >= 8
    assert report.numbers[0].counts.attention > 1
    # Every day of November, in order, and nothing outside.
    assert [r.key for r in report.days] == [f"2026-11-{d:02d}" for d in range(1, 31)]
    assert report.outside_window == 0
    assert report.first is not None and report.first >= MONTH_START
    assert report.last is not None and report.last < MONTH_END


def test_operator_tables_sorted_by_blocked_plus_flagged(month: Month) -> None:
    report = month_report(month)
    for role in ("designated", "serving", "ingress"):
        rows = report.operators(role)
        attention = [r.counts.attention for r in rows]
        assert attention == sorted(attention, reverse=True), role


def test_a_reason_counts_once_per_call(month: Month) -> None:
    rows = [dict(r) for r in month.rows[:500]]
    doubled = [{**r, "reasons": f"{r['reasons']};{r['reasons']}"} if r["reasons"] else r for r in rows]
    batch = _batch(doubled)
    assert table(aggregate([batch]).reasons) == expected(rows)["reasons"]


def _batch(rows: list[dict[str, str]]) -> pa.RecordBatch:
    micros = [int(moment_of(r).timestamp() * 1_000_000) for r in rows]
    return pa.RecordBatch.from_arrays(
        [
            pa.array(micros, pa.int64()),
            *(pa.array([r[c] for r in rows], pa.string()) for c in VERDICT_COLUMNS),
            pa.array([r.get("contractor", "") for r in rows], pa.string()),
        ],
        schema=SCHEMA,
    )


def test_window_and_top(month: Month) -> None:
    since, until = MONTH_START.replace(day=10), MONTH_START.replace(day=12, hour=15)
    report = aggregate(read_batches(month.screened), since=since, until=until, top=5)
    rows = in_window(month.rows, since, until)
    assert_matches(report, expected(rows, top=5))
    assert report.outside_window == CALLS - len(rows)
    assert [r.key for r in report.days] == ["2026-11-10", "2026-11-11", "2026-11-12"]
    assert len(report.numbers) == 5


def test_parquet_gzip_and_csv_give_the_same_report(month: Month, tmp_path: Path) -> None:
    first, second = month.screened
    gz = tmp_path / "first.csv.gz"
    with open(first, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    # Parquet as `sipcheck screen` writes it (strings), its time column as epoch seconds (integers).
    parquet = tmp_path / "second.parquet"
    with open(second, encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    types = {name: pa.string() for name in header if name != "time"}
    data = pacsv.read_csv(second, convert_options=pacsv.ConvertOptions(column_types=types))
    naive = data.column("time").to_pylist()  # pyarrow took the naive ISO times for timestamps
    seconds = [int(t.replace(tzinfo=JST).timestamp()) for t in naive]
    data = data.set_column(data.column_names.index("time"), "time", pa.array(seconds, pa.int64()))
    pq.write_table(data, parquet)
    plain = month_report(month).to_dict()
    mixed = aggregate(read_batches([gz, parquet]), since=MONTH_START, until=MONTH_END).to_dict()
    plain.pop("sources"), mixed.pop("sources")
    assert mixed == plain


def test_csv_is_one_table_with_a_section_column(month: Month) -> None:
    report = month_report(month)
    out = io.StringIO()
    csv.writer(out).writerows(csv_rows(report))
    out.seek(0)
    rows = list(csv.DictReader(out))
    assert {r["section"] for r in rows} == set(SECTIONS)
    (summary,) = (r for r in rows if r["section"] == "summary")
    assert int(summary["calls"]) == CALLS
    assert int(summary["blocked"]) == report.total.blocked
    assert abs(float(summary["blocked_rate"]) - report.total.blocked / CALLS) < 1e-6
    designated = {r["key"]: int(r["flagged"]) for r in rows if r["section"] == "designated"}
    want = {k or "(none)": v.get("flagged", 0) for k, v in expected(month.rows)["designated"].items()}
    assert designated == want
    numbers = [r for r in rows if r["section"] == "number"]
    assert [r["key"] for r in numbers] == [n.e164 for n in report.numbers]
    assert all(r["reasons"] for r in numbers)
    assert len([r for r in rows if r["section"] == "day"]) == 30


def test_html_escapes_every_text() -> None:
    nasty = '<script>alert("x")</script>&'
    report = Report(
        since=None,
        until=None,
        first=None,
        last=None,
        total=Counts(1, 0, 1),
        designated=(Row(nasty, Counts(0, 0, 1)),),
        serving=(),
        ingress=(Row("", Counts(1, 0, 1)),),
        contractor=(Row(nasty, Counts(0, 0, 1)),),
        reasons=(Row(nasty, Counts(0, 0, 1)),),
        numbers=(),
        days=(),
        data_versions=(Row(nasty, Counts(1, 0, 1)),),
        sources=((nasty, 2),),
    )
    page = render_html(report, generated_at=datetime(2026, 12, 1, tzinfo=JST), title=nasty)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "(none)" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page
