"""Fixture files in exactly MIC's layouts, written with xlwt (.xls) and openpyxl (.xlsx).

Fixed-line files come in two layouts (/work/shared/data/README.md): today's, where A1 holds
令和6年9月1日現在 and the header is 番号区画コード | 番号 | 市外局番 | 市内局番 | 事業者 | 使用状況 |
備考, possibly below title rows; and the older one, with a place-name (MA) column, the operator
column called 指定事業者 and the as-of date in another cell of the first row, in 平成, in
parentheses, often with full-width digits. `current_layout` and `older_layout` build the rows
of each, `save_xls` writes any rows as a real .xls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import openpyxl
import pytest
import xlwt

XLS_HEADER = ("番号区画コード", "番号", "市外局番", "市内局番", "事業者", "使用状況", "備考")
XLS_HEADER_OLD = ("番号区画コード", "MA", "番号", "市外局番", "市内局番", "指定事業者", "使用状況", "備考")
OLD_AS_OF = "（平成２９年８月１日現在）"

Rows = Sequence[Sequence[object]]
XlsWriter = Callable[[str, str, Rows], Path]
XlsxWriter = Callable[[str, Rows], Path]


def save_xls(path: Path, rows: Rows) -> Path:
    """Write ``rows`` from A1 on into the first sheet; None leaves a cell empty."""
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Sheet1")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r, c, value)
    book.save(str(path))
    return path


def current_layout(rows: Rows, as_of: str = "令和6年9月1日現在", above: Rows = ()) -> list[Sequence[object]]:
    """Today's layout: ``above`` (title rows, if any), the as-of date in column A, the header, the blocks.

    Block rows are 番号区画コード, 番号, 市外局番, 市内局番, 事業者, 使用状況, 備考.
    """
    return [*above, [as_of], XLS_HEADER, *rows]


def older_layout(rows: Rows, as_of: str = OLD_AS_OF, date_column: int = 6) -> list[Sequence[object]]:
    """The older layout: a title in A1, the date in another cell of row 1, the header with MA and 指定事業者.

    Block rows are 番号区画コード, MA, 番号, 市外局番, 市内局番, 指定事業者, 使用状況, 備考.
    """
    first: list[object] = [None] * (date_column + 1)
    first[0] = "市外局番の指定状況"
    first[date_column] = as_of
    return [first, XLS_HEADER_OLD, *rows]


@pytest.fixture
def write_xls(tmp_path: Path) -> XlsWriter:
    """MIC fixed-line layout of today: A1 the era as-of date, row 2 the header, then one block per row."""

    def write(name: str, a1: str, rows: Rows) -> Path:
        return save_xls(tmp_path / name, current_layout(rows, a1))

    return write


@pytest.fixture
def write_xlsx(tmp_path: Path) -> XlsxWriter:
    """MIC matrix layout: rows as given (title/date rows, a 0-9 header, then prefix + 10 operator cells)."""

    def write(name: str, rows: Rows) -> Path:
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
