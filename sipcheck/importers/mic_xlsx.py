"""MIC's non-geographic block files (050, 0120, 0800, 0570, 020, 0200, 060/070/080/090): ``.xlsx`` matrices.

Column A holds a row prefix (``050123``), columns B–K stand for the next digit
0–9, and each cell holds the designated operator's name or is blank (not
designated: the row still covers its range). The number plan decides the block
length, so one reader serves 050-CDEF, 0120-DEF, 090-CDE and 0200-DEFGH alike.
The as-of date is era text in any cell of the rows above the matrix (令和 or,
in older files, （平成２９年８月１日現在）); MIC has shipped files without it, so
the file name's date is the fallback.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Final

import openpyxl
from openpyxl.utils import get_column_letter

from sipcheck.importers.era import date_in_name, find_as_of
from sipcheck.importers.errors import FILE_LEVEL, Collector
from sipcheck.importers.mic_common import MicFile, block_kind, cell_text, range_key
from sipcheck.model import Block
from sipcheck.numbers import PLAN

COLUMNS: Final = "BCDEFGHIJK"  # columns for the next digit 0..9
_DIGIT_HEADER: Final = [str(d) for d in range(10)]


def read_xlsx(path: Path, errors: Collector) -> MicFile | None:
    file = path.name
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError, InvalidFileException…
        errors.add(file, FILE_LEVEL, "", "", f"not a readable .xlsx workbook: {exc}")
        return None
    result = MicFile(file, None)
    above: list[tuple[int, str, str]] = []  # (line, column, text) of the cells above each matrix
    try:
        for sheet in book.worksheets:
            started = False
            for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                cells = [cell_text(v) for v in values]
                first = _row_prefix(values[0] if values else None)
                if first is None:
                    if not started:
                        above.extend(
                            (line, get_column_letter(col), text) for col, text in enumerate(cells, 1) if text
                        )
                    else:
                        _check_other_row(file, line, cells, errors)
                    continue
                started = True
                _row(file, line, first, values, result, errors)
    finally:
        book.close()
    as_of, problems = find_as_of(above)
    for problem in problems:
        errors.add(file, problem.line, problem.ref, problem.text, problem.message)
    if as_of is not None:
        result.as_of = as_of.value
    elif not problems:
        result.as_of = date_in_name(file)
        if result.as_of is None:
            errors.add(
                file,
                FILE_LEVEL,
                "",
                "",
                "no as-of date: no era date (令和…現在) in the sheet and none in the name",
            )
    return result


def _row_prefix(value: object) -> str | None:
    """Column A as a row prefix, or None if it is not one (title, header, note)."""
    if isinstance(value, float) and value.is_integer() and value > 0:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return "0" + str(value)  # a prefix stored as a number lost its leading 0
    text = unicodedata.normalize("NFKC", cell_text(value))
    if text.startswith("0") and text.isascii() and text.isdigit():
        return text
    return None


def _check_other_row(file: str, line: int, cells: list[str], errors: Collector) -> None:
    """Below the matrix only notes and repeated headers may appear; anything with cells filled is an error."""
    body = cells[1:11]
    if not any(body):
        return
    if [unicodedata.normalize("NFKC", c) for c in body] == _DIGIT_HEADER:
        return
    errors.add(file, line, "A", cells[0] if cells else "", "row prefix missing: expected digits like 050123")


def _row(
    file: str, line: int, prefix: str, values: tuple[object, ...], out: MicFile, errors: Collector
) -> None:
    rule = PLAN.ranges.get(range_key(prefix))
    if rule is None:
        errors.add(file, line, "A", prefix, "not a prefix of a non-geographic range (050, 0120, 090, …)")
        return
    if len(prefix) != rule.block_digits - 1:
        errors.add(file, line, "A", prefix, f"{rule.prefix} row prefixes have {rule.block_digits - 1} digits")
        return
    out.ranges.add(rule.prefix)
    for digit, column in enumerate(COLUMNS, start=1):
        value = values[digit] if digit < len(values) else None
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if not isinstance(value, str):
            errors.add(file, line, column, cell_text(value), "expected an operator name or a blank cell")
            continue
        block = prefix + str(digit - 1)
        try:
            kind = block_kind(block)
        except ValueError as exc:
            errors.add(file, line, column, value, str(exc))
            continue
        out.blocks.append((f"{file}:{line}:{column}", Block(block, kind, value.strip(), True)))
