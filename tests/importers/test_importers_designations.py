"""The consolidated designation CSV: its hand-written reader enforces exactly `MicDesignationRow`'s rules."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from sipcheck.importers import ImportFailed, load_mic
from sipcheck.importers.errors import Collector
from sipcheck.importers.rows import MicDesignationRow
from sipcheck.importers.tables import raw_rows, validate_row

HEADER = "block,range,operator,designated_as_of,operator_as_of,source\n"
ROWS = [
    "035253,fixed,ＮＴＴ東日本,2026-07-04,2017-08-21,fetus-2026-07+tomgoodsun-2017",  # 2 good
    "0501000,050,ソフトバンク株式会社,2026-07-04,2026-07-04,gapul",  # 3 good
    "0570064,0570,,2026-07-04,,fetus-2026-07",  # 4 good: operator unknown
    ",fixed,,2026-07-04,,x",  # 5 block missing
    "035254,fixed,,yesterday,,x",  # 6 bad date
    "035255,fixed,,,,x",  # 7 date missing
    "035256,fixed,,2026-07-04,2017-13-01,x",  # 8 bad operator date
    "035257,mobile,,2026-07-04,,x",  # 9 range not a pattern
    "03a253,fixed,,2026-07-04,,x",  # 10 block not digits
]


def write(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "designations.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_reader_and_row_model_refuse_the_same_rows(tmp_path: Path) -> None:
    path = write(tmp_path, ROWS)
    with pytest.raises(ImportFailed) as info:
        load_mic([path])
    by_reader = {(e.line, e.field) for e in info.value.errors}
    collector = Collector()
    by_model = set()
    for line, raw in raw_rows(path, MicDesignationRow, collector):
        errors = Collector()
        if validate_row(MicDesignationRow, path.name, line, raw, errors) is None:
            by_model |= {(e.line, e.field) for e in errors.errors}
    assert by_model <= by_reader  # every row the schema refuses, the reader refuses at the same field
    assert {line for line, _ in by_reader} == set(range(5, 11))
    assert (10, "block") in by_reader  # digits: the model's pattern and the plan check agree


def test_rules_beyond_the_schema(tmp_path: Path) -> None:
    """The plan and cross-field rules: a block of its range, a local code 2-9, an operator's date."""
    rows = [
        "031234,fixed,ＮＴＴ東日本,2026-07-04,2017-08-21,x",  # 2: local code starts with 1
        "0501000,fixed,ソフトバンク株式会社,2026-07-04,2026-07-04,x",  # 3: 050 is not fixed
        "050100,050,ソフトバンク株式会社,2026-07-04,2026-07-04,x",  # 4: 050 blocks have 7 digits
        "035253,fixed,ＮＴＴ東日本,2026-07-04,,x",  # 5: operator without its date
    ]
    with pytest.raises(ImportFailed) as info:
        load_mic([write(tmp_path, rows)])
    got = [(e.line, e.field) for e in info.value.errors]
    assert got == [(2, "block"), (3, "range"), (4, "block"), (5, "operator_as_of")]
    assert "local code starts with 2-9" in info.value.errors[0].message
    assert "in range 050" in info.value.errors[1].message


def test_coverage_and_dates(tmp_path: Path) -> None:
    part = load_mic([write(tmp_path, ROWS[:3])]).part
    coverage = {c.range: c for c in part.coverage}
    assert sorted(coverage) == ["01", "02", "03", "04", "05", "050", "0570", "06", "07", "08", "09"]
    assert coverage["03"].as_of == date(2026, 7, 4) and coverage["03"].operators_as_of == date(2017, 8, 21)
    assert coverage["050"].operators_as_of is None  # named as of the designations themselves
    assert "designations.csv" in coverage["0570"].source and "fetus-2026-07" in coverage["0570"].source
    operators = {b.prefix: b.operator for b in part.records}  # type: ignore[union-attr]
    assert operators == {"035253": "ＮＴＴ東日本", "0501000": "ソフトバンク株式会社", "0570064": ""}
