"""The readers' time forms and their errors, file by file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sipcheck.batch.csvio import OUTPUT_COLUMNS
from sipcheck.report.read import ReportInputError, parse_moment, read_batches, times_us

MOMENT = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)  # 09:00 JST
MICROS = int(MOMENT.timestamp()) * 1_000_000


def where(i: int) -> str:
    return f"f:{i + 2}"


@pytest.mark.parametrize(
    "values",
    [
        ["2026-11-01T09:00:00+09:00", "2026-11-01T00:00:00Z"],
        ["2026-11-01T09:00:00", "2026-11-01 09:00:00.000"],  # naive = JST
        [str(MICROS // 1_000_000), f"{MICROS // 1_000_000}.0"],  # epoch seconds
        ["2026-11-01T09:00:00", f" {MICROS // 1_000_000} "],  # mixed: row by row
    ],
)
def test_time_forms(values: list[str]) -> None:
    assert times_us(pa.array(values), where).to_pylist() == [MICROS, MICROS]
    assert [parse_moment(v) for v in values] == [MICROS, MICROS]


def test_typed_time_columns() -> None:
    naive = pa.array([datetime(2026, 11, 1, 9, 0)], pa.timestamp("s"))
    aware = pa.array([MOMENT], pa.timestamp("ms", "UTC"))
    assert times_us(naive, where).to_pylist() == [MICROS]
    assert times_us(aware, where).to_pylist() == [MICROS]
    assert times_us(pa.array([MICROS / 1e6]), where).to_pylist() == [MICROS]
    with pytest.raises(ReportInputError, match=r"f:2: time: a column of type bool"):
        times_us(pa.array([True]), where)
    with pytest.raises(ReportInputError, match=r"f:3: time: empty"):
        times_us(pa.array(["2026-11-01", None]), where)


def test_parquet_errors_name_the_row(tmp_path: Path) -> None:
    columns = {"time": ["2026-11-01T09:00:00", "2026-11-01T10:00:00", "later"]}
    columns.update(
        {c: ["allow", "allow", "allow"] if c == "action" else ["", "", ""] for c in OUTPUT_COLUMNS}
    )
    path = tmp_path / "calls.parquet"
    pq.write_table(pa.table(columns), path)
    with pytest.raises(ReportInputError, match=rf"{path} row 3: time: cannot parse 'later'"):
        list(read_batches([path]))
    del columns["kind"]
    pq.write_table(pa.table(columns), path)
    with pytest.raises(ReportInputError, match=r"missing verdict column\(s\) kind"):
        list(read_batches([path]))
