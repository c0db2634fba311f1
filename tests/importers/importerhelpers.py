"""Fixture files in exactly MIC's layouts, written with xlwt (.xls) and openpyxl (.xlsx)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import openpyxl
import pytest
import xlwt

XLS_HEADER = ("番号区画コード", "番号", "市外局番", "市内局番", "事業者", "使用状況", "備考")

XlsWriter = Callable[[str, str, Sequence[Sequence[object]]], Path]
XlsxWriter = Callable[[str, Sequence[Sequence[object]]], Path]


@pytest.fixture
def write_xls(tmp_path: Path) -> XlsWriter:
    """MIC fixed-line layout: A1 the era as-of date, row 2 the header, then one block per row."""

    def write(name: str, a1: str, rows: Sequence[Sequence[object]]) -> Path:
        book = xlwt.Workbook(encoding="utf-8")
        sheet = book.add_sheet("Sheet1")
        sheet.write(0, 0, a1)
        for col, title in enumerate(XLS_HEADER):
            sheet.write(1, col, title)
        for r, row in enumerate(rows, start=2):
            for c, value in enumerate(row):
                sheet.write(r, c, value)
        path = tmp_path / name
        book.save(str(path))
        return path

    return write


@pytest.fixture
def write_xlsx(tmp_path: Path) -> XlsxWriter:
    """MIC matrix layout: rows as given (title/date rows, a 0-9 header, then prefix + 10 operator cells)."""

    def write(name: str, rows: Sequence[Sequence[object]]) -> Path:
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        for row in rows:
            sheet.append(list(row))
        path = tmp_path / name
        book.save(path)
        return path

    return write


def matrix_header() -> list[object]:
    return ["番号", *[str(d) for d in range(10)]]
