"""MIC's fixed-line block files: Excel 97-2003 ``.xls``, one row per 6-digit block.

Layout (see /work/shared/data/README.md): A1 holds the as-of date in the era
calendar (令和6年9月1日現在); row 2 is the header 番号区画コード | 番号 | 市外局番 |
市内局番 | 事業者 | 使用状況 | 備考; every later row is one block.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Final

import xlrd

from sipcheck.importers.era import find_era_date
from sipcheck.importers.errors import FILE_LEVEL, Collector
from sipcheck.importers.mic_common import MicFile, block_kind, cell_text, digits, range_key
from sipcheck.model import Block
from sipcheck.numbers import PLAN, NumberKind

HEADER: Final = ("番号区画コード", "番号", "市外局番", "市内局番", "事業者", "使用状況", "備考")
IN_USE: Final = {"使用中": True, "未使用": False}


def read_xls(path: Path, errors: Collector) -> MicFile | None:
    file = path.name
    try:
        book = xlrd.open_workbook(str(path))
    except Exception as exc:  # xlrd raises many types for a damaged file
        errors.add(file, FILE_LEVEL, "", "", f"not a readable .xls workbook: {exc}")
        return None
    sheet = book.sheet_by_index(0)
    if sheet.nrows < 2:
        errors.add(file, FILE_LEVEL, "", "", "expected the as-of date in A1 and the header in row 2")
        return None
    a1 = cell_text(sheet.cell_value(0, 0))
    try:
        as_of = find_era_date(a1)
    except ValueError as exc:
        errors.add(file, 1, "A1", a1, str(exc))
        as_of = None
    else:
        if as_of is None:
            errors.add(file, 1, "A1", a1, "expected the as-of date in the era calendar (令和6年9月1日現在)")
    header = tuple(unicodedata.normalize("NFKC", cell_text(v)) for v in sheet.row_values(1))
    if header[: len(HEADER)] != HEADER:
        errors.add(file, 2, "", " | ".join(header), f"expected the header {' | '.join(HEADER)}")
        return None
    result = MicFile(file, as_of)
    for index in range(2, sheet.nrows):
        values = sheet.row_values(index)[: len(HEADER)]
        if not any(cell_text(v) for v in values):
            continue
        block = _row(file, index + 1, values, errors)
        if block is not None:
            result.ranges.add(range_key(block.prefix))
            result.blocks.append((f"{file}:{index + 1}", block))
    return result


def _row(file: str, line: int, values: list[object], errors: Collector) -> Block | None:
    _code, number, area_raw, local_raw, operator_raw, status_raw = (list(values) + [""] * 7)[:6]
    ok = True
    area = digits(area_raw)
    local = digits(local_raw)
    if not area.isdigit() or not local.isdigit():
        errors.add(file, line, "市外局番", f"{cell_text(area_raw)}+{cell_text(local_raw)}", "expected digits")
        return None
    if not area.startswith("0"):
        area = "0" + area
    prefix = area + local
    if area not in PLAN.area_codes:
        errors.add(file, line, "市外局番", cell_text(area_raw), f"{area} is not an area code")
        ok = False
    elif len(prefix) != PLAN.fixed_block_digits:
        errors.add(file, line, "市内局番", cell_text(local_raw), f"{prefix} is not a 6-digit block prefix")
        ok = False
    else:
        try:
            block_kind(prefix)
        except ValueError as exc:
            errors.add(file, line, "市内局番", cell_text(local_raw), str(exc))
            ok = False
    listed = digits(number)
    if listed and listed not in (prefix, prefix[1:]):
        errors.add(file, line, "番号", cell_text(number), f"does not match 市外局番+市内局番 ({prefix})")
        ok = False
    operator = cell_text(operator_raw)
    if not operator:
        errors.add(file, line, "事業者", "", "designated operator missing")
        ok = False
    status = cell_text(status_raw)
    in_use = IN_USE.get(unicodedata.normalize("NFKC", status))
    if in_use is None:
        errors.add(file, line, "使用状況", status, "expected 使用中 or 未使用")
        ok = False
    if not ok or in_use is None:
        return None
    return Block(prefix, NumberKind.FIXED, operator, in_use)
